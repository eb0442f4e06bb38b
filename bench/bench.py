#!/usr/bin/env python3
"""make bench: connectd's figures on loopback, printed as one table.

  (a) 2 GiB upload through one tunnel and direct, and their ratio
  (b) 2 GiB download likewise
  (c) sequential tunnel setups (connect, CONNECT, 200, one byte echoed, close):
      per second, p50 and p99, through connectd under tcpserver, beside a direct
      connection and beside a minimal fork-and-exec relay (nc) under tcpserver
  (d) 100 concurrent tunnels each moving 20 MiB both ways, byte-exact: total time
  (e) the summed PSS of all connectd processes during (d)

Each figure is the median of --runs runs. Traffic goes to 127.0.0.1 only.
Clients and targets are separate processes (this script run in another role),
so that the interpreter's lock never sits between two ends of a transfer.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONNECTD = os.environ.get("CONNECTD", os.path.join(HERE, "..", "connectd"))
CHUNK = 1 << 20
PERIOD = (1 << 20) - 17          # the pattern repeats with this period (not a power of 2)
PATTERN = bytes((i * 131 + 7) % 251 for i in range(PERIOD)) * 2 + bytes(CHUNK)
OK = b"HTTP/1.1 200 Connection established\r\n\r\n"


def pattern(offset, n):
    o = offset % PERIOD
    return memoryview(PATTERN)[o:o + n]


def send_pattern(sock, n):
    sent = 0
    while sent < n:
        sent += sock.send(pattern(sent, min(CHUNK, n - sent)))


def recv_check(sock, n, verify=True):
    """Read to EOF; True when exactly n bytes of the pattern came."""
    buf = bytearray(CHUNK)
    got, good = 0, True
    while True:
        k = sock.recv_into(buf)
        if k == 0:
            break
        if verify and good and (got + k > n or buf[:k] != pattern(got, k)):
            good = False
        got += k
    return good and got == n


# ---- roles run as separate processes ----------------------------------------

def listen_and_report(portfile):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(tmp, portfile)
    return s


def role_target(portfile):
    """Each connection says first how many bytes it wants back (8 bytes, big-endian),
    then the target sends that much of the pattern while it reads the client's
    bytes to EOF and checks them, and closes; a failed check resets."""
    s = listen_and_report(portfile)

    def serve(c):
        try:
            want = b""
            while len(want) < 8:
                k = c.recv(8 - len(want))
                if not k:
                    return
                want += k
            n = int.from_bytes(want, "big")
            if n == 1:            # the setup test: echo one byte
                b = c.recv(1)
                c.sendall(b)
                return
            t = threading.Thread(target=lambda: (send_pattern(c, n), c.shutdown(socket.SHUT_WR)))
            t.start()
            up = recv_check(c, int.from_bytes(c.recv(8, socket.MSG_WAITALL), "big"))
            t.join()
            if not up:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


# ---- the client side ----------------------------------------------------------

def tunnel(port, tport, proxied):
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if proxied:
        c.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % tport)
        got = b""
        while len(got) < len(OK):
            k = c.recv(len(OK) - len(got))
            if not k:
                raise RuntimeError("no 200 from the proxy")
            got += k
        if got != OK:
            raise RuntimeError("not a 200: %r" % got)
    return c


def transfer(port, tport, proxied, up, down, verify=True):
    """One tunnel moving up bytes to the target and down bytes back; True if exact."""
    c = tunnel(port, tport, proxied)
    c.sendall(down.to_bytes(8, "big") + up.to_bytes(8, "big"))
    ok = [False]

    def reader():
        ok[0] = recv_check(c, down, verify)
    t = threading.Thread(target=reader)
    t.start()
    send_pattern(c, up)
    c.shutdown(socket.SHUT_WR)
    t.join()
    c.close()
    return ok[0]


def setup_once(port, tport, proxied):
    start = time.perf_counter()
    c = tunnel(port, tport, proxied)
    c.sendall((1).to_bytes(8, "big") + b"x")
    if c.recv(1) != b"x":
        raise RuntimeError("no echo")
    c.close()
    return time.perf_counter() - start


class Server:
    """A super-server (tcpserver) running a command, on a port it reports."""

    def __init__(self, cmd):
        for _ in range(20):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
            self.proc = subprocess.Popen(["tcpserver", "-c", "1000", "-b", "1000", "-H", "-R", "-l", "0",
                                          "127.0.0.1", str(self.port)] + cmd,
                                         stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self.wait_ready():
                return
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError("tcpserver did not start")

    def wait_ready(self):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.01)
        return False

    def children(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def pss(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bulk-mib", type=int, default=2048)
    ap.add_argument("--setups", type=int, default=1000)
    ap.add_argument("--conc", type=int, default=100)
    ap.add_argument("--conc-mib", type=int, default=20)
    ap.add_argument("--role", nargs="*")
    a = ap.parse_args()
    if a.role:
        role_target(a.role[1])
        return
    if not shutil.which("tcpserver"):
        sys.exit("bench: needs tcpserver (apt-get install ucspi-tcp)")

    tmp = "/tmp/connectd-bench.%d" % os.getpid()
    os.makedirs(tmp)
    portfile = os.path.join(tmp, "port")
    target = subprocess.Popen([sys.executable, __file__, "--role", "target", portfile])
    deadline = time.monotonic() + 10
    while not os.path.exists(portfile) and time.monotonic() < deadline:
        time.sleep(0.01)
    tport = int(open(portfile).read())
    proxy = Server([CONNECTD, "-a", "127.0.0.1", "-l", "stderr", str(tport)])
    relay = Server(["nc", "-N", "127.0.0.1", str(tport)]) if shutil.which("nc") else None
    rows = []
    try:
        bulk = a.bulk_mib << 20
        for name, up, down in (("(a) %d MiB upload" % a.bulk_mib, bulk, 0),
                               ("(b) %d MiB download" % a.bulk_mib, 0, bulk)):
            d, t = [], []
            for _ in range(a.runs):
                for proxied, acc in ((False, d), (True, t)):
                    start = time.perf_counter()
                    if not transfer(proxy.port if proxied else tport, tport, proxied, up, down, verify=False):
                        raise RuntimeError("bulk transfer not exact")
                    acc.append(time.perf_counter() - start)
            md, mt = statistics.median(d), statistics.median(t)
            rows.append((name, "direct %.0f MiB/s, tunnel %.0f MiB/s" % (a.bulk_mib / md, a.bulk_mib / mt),
                         "ratio %.2f" % (md / mt)))

        def setups(port, proxied):
            lat = [setup_once(port, tport, proxied) for _ in range(a.setups)]
            return a.setups / sum(lat), percentile(lat, 0.5) * 1e3, percentile(lat, 0.99) * 1e3
        results = {}
        for _ in range(a.runs):
            for key, port, proxied in (("direct", tport, False), ("connectd", proxy.port, True)) + \
                    ((("nc relay", relay.port, False),) if relay else ()):
                results.setdefault(key, []).append(setups(port, proxied))
        med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in results.items()}
        for k, (rate, p50, p99) in med.items():
            rows.append(("(c) setups, %s" % k, "%.0f/s  p50 %.2f ms  p99 %.2f ms" % (rate, p50, p99),
                         "ratio to nc %.2f" % (rate / med["nc relay"][0]) if k == "connectd" and relay else ""))

        n = a.conc_mib << 20
        times, psss = [], []
        for _ in range(a.runs):
            ok = [None] * a.conc
            peak = [0]
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    peak[0] = max(peak[0], pss(proxy.children()))
                    time.sleep(0.05)

            def one(i):
                try:
                    ok[i] = transfer(proxy.port, tport, True, n, n)
                except OSError:
                    ok[i] = False
            s = threading.Thread(target=sample)
            s.start()
            start = time.perf_counter()
            ts = [threading.Thread(target=one, args=(i,)) for i in range(a.conc)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            times.append(time.perf_counter() - start)
            stop.set()
            s.join()
            psss.append(peak[0])
            if not all(ok):
                raise RuntimeError("%d of %d concurrent tunnels not exact" % (ok.count(False), a.conc))
        rows.append(("(d) %d tunnels x %d MiB both ways" % (a.conc, a.conc_mib),
                     "%.2f s, all byte-exact" % statistics.median(times), ""))
        rows.append(("(e) summed PSS of connectd during (d)", "%d KiB" % statistics.median(psss),
                     "%.0f KiB per tunnel" % (statistics.median(psss) / a.conc)))
    finally:
        proxy.close()
        if relay:
            relay.close()
        target.kill()
        target.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print("connectd bench: %s, %d cores, kernel %s, median of %d runs"
          % (subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip(),
             os.cpu_count(), os.uname().release, a.runs))
    for r in rows:
        print("| %-40s | %-48s | %-18s |" % r)
    print("peers (Apache mod_proxy_connect, Squid, tinyproxy): %s"
          % ("none installed" if not any(shutil.which(p) for p in ("apache2", "squid", "tinyproxy"))
             else "installed but not yet measured by this script"))


if __name__ == "__main__":
    main()
