#!/usr/bin/env python3
"""make bench: connectd and its peers on loopback, printed as one table.

For each proxy:
  (a) 2 GiB upload through one tunnel, and the same direct just before it in
      the same loop: the ratio of their times (in the row "direct", direct
      against direct: what noise alone gives)
  (b) 2 GiB download likewise
  (c) sequential tunnel setups (connect, CONNECT, 200, one byte echoed, close):
      per second, p50 and p99
  (d) 100 concurrent tunnels each moving 20 MiB both ways, byte-exact: total time
  (e) the summed PSS of the proxy's processes during (d), the peak of samples
      every 50 ms: under tcpserver the connectd processes (tcpserver itself not
      counted); for a daemon its whole process tree, parent and children. The
      100 tunnels all open before any of them moves a byte.

The proxies: connectd under tcpserver, and connectd-static (the musl build of
`make static`) when it exists; Apache's mod_proxy_connect (event MPM), Squid
(-N) and tinyproxy where installed, each configured here as a CONNECT proxy on
127.0.0.1 with private files in a temporary directory (logs too), run in the
foreground as a child of this script and stopped at the end. A direct
connection and a minimal fork-and-exec relay (nc under tcpserver) are the
references for (c). Then a line for each goal of issue 6, met or not.

The bytes are test/common.py's deterministic stream. The target checks every
byte it gets, in every figure; the client checks every byte it gets in (d).
A failed check is a failed measurement, printed in the proxy's row, never run
again; the bench exits 1 if it was the direct connection's or connectd's.

Each figure is the median of --runs runs. Traffic goes to 127.0.0.1 only.
Clients and targets are separate processes (this script run in another role),
so that the interpreter's lock never sits between two ends of a transfer.
"""
import argparse
import glob
import grp
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test"))
import common  # noqa: E402  (test/common.py: the deterministic stream)

CONNECTD = os.environ.get("CONNECTD", os.path.join(HERE, "..", "connectd"))
STATIC = os.environ.get("CONNECTD_STATIC", os.path.join(HERE, "..", "connectd-static"))
CHUNK = 1 << 20                  # at most this much per send and per read


def send_stream(sock, n):
    """Send the stream's first n bytes."""
    common.send_stream(sock, n, chunk=CHUNK)


def recv_check(sock, n, verify=True):
    """Read n bytes: None when all came and are the stream's first n, else what went wrong."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    got, bad = 0, None
    while got < n:
        k = sock.recv_into(buf, min(CHUNK, n - got))
        if k == 0:
            return "EOF after %d of %d bytes" % (got, n)
        if verify and bad is None:
            i = common.stream_mismatch(view[:k], got)
            if i is not None:
                bad = "byte %d of %d is not the stream's (0x%02x, want 0x%02x), in a read of %d at %d" % (
                    got + i, n, buf[i], common.stream(got + i, 1)[0], k, got)
        got += k
    return bad


# ---- roles run as separate processes ----------------------------------------

def listen_and_report(portfile):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    common.write_atomic(portfile, str(s.getsockname()[1]))
    return s


def role_target(portfile):
    """Each connection says first how many bytes it wants back, then how many it
    sends (8 bytes each, big-endian); the target sends that much of the stream
    while it reads and checks the client's, then one byte, its verdict (1 good,
    0 not), and closes. So no side needs the proxy to relay a half-close, which
    Squid and tinyproxy do not: each closes the whole tunnel on the first EOF."""
    s = listen_and_report(portfile)

    def count(c):
        """The next 8 bytes as a number, or None at an EOF before them."""
        b = b""
        while len(b) < 8:
            k = c.recv(8 - len(b))
            if not k:
                return None
            b += k
        return int.from_bytes(b, "big")

    def serve(c):
        try:
            n = count(c)
            if n is None:
                return
            if n == 1:            # the setup test: echo one byte
                b = c.recv(1)
                c.sendall(b)
                return
            t = threading.Thread(target=send_stream, args=(c, n))
            t.start()
            up = count(c)
            bad = "EOF before the upload's length" if up is None else recv_check(c, up)
            t.join()
            if bad:
                print("bench: target: upload from %s:%d: %s" % (c.getpeername() + (bad,)), file=sys.stderr)
            c.sendall(b"\0" if bad else b"\1")
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


# ---- the client side ----------------------------------------------------------

def tunnel(port, tport, proxied):
    """A connection to port; through a proxy, after its 200 and the whole head."""
    c = socket.create_connection(("127.0.0.1", port), timeout=60)     # no hang: 60 s without progress fails
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if proxied:
        c.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % tport)
        head = b""
        while b"\r\n\r\n" not in head:          # the target says nothing before the client
            k = c.recv(4096)
            if not k:
                raise RuntimeError("the proxy closed before a whole answer: %r" % head[:80])
            head += k
        if head.split(b" ", 2)[1:2] != [b"200"]:
            raise RuntimeError("not a 200: %s" % head.split(b"\r\n")[0].decode(errors="replace"))
    return c


def transfer(port, tport, proxied, up, down, verify=True, ready=None):
    """One tunnel moving up bytes to the target and down bytes back; raises
    unless both were exact (the target's verdict) and nothing more came.
    ready(), if given, is called once the tunnel is open, before any byte."""
    c = tunnel(port, tport, proxied)
    if ready:
        ready()
    c.sendall(down.to_bytes(8, "big") + up.to_bytes(8, "big"))
    err = ["no answer"]

    def reader():
        try:
            bad = recv_check(c, down, verify)
            verdict = None if bad else c.recv(1)
            err[0] = ("download not exact: %s" % bad if bad else
                      "no verdict from the target (EOF)" if verdict == b"" else
                      "upload not exact (the target's verdict; its reason is on stderr)" if verdict != b"\1" else
                      "bytes after the end" if c.recv(1) else None)
        except OSError as e:
            err[0] = "download: %s" % e
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    send_stream(c, up)
    t.join()
    c.close()
    if err[0]:
        raise RuntimeError("%s tunnel: %s" % ("proxied" if proxied else "direct", err[0]))


def setup_once(port, tport, proxied):
    start = time.perf_counter()
    c = tunnel(port, tport, proxied)
    c.sendall((1).to_bytes(8, "big") + b"x")
    if c.recv(1) != b"x":
        raise RuntimeError("no echo")
    c.close()
    return time.perf_counter() - start


# ---- the figures, for one proxy each ---------------------------------------------

def bulk(p, tport, up, down):
    """(a) or (b): the transfer direct, then through p: MiB/s through p, and the ratio."""
    secs = []
    for port, proxied in ((tport, False), (p.port, p.proxied)):
        start = time.perf_counter()
        transfer(port, tport, proxied, up, down, verify=False)
        secs.append(time.perf_counter() - start)
    return {"rate": (up + down) / CHUNK / secs[1], "ratio": secs[0] / secs[1]}


def setups(p, tport, n):
    """(c): n tunnel setups one after another: per second, p50 and p99 in ms."""
    lat = sorted(setup_once(p.port, tport, p.proxied) for _ in range(n))
    return {"rate": n / sum(lat), "p50": lat[n // 2] * 1e3, "p99": lat[min(n - 1, n * 99 // 100)] * 1e3}


def pss(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except OSError:
            pass
    return total


def concurrent(p, tport, conc, n):
    """(d) and (e): conc tunnels at once, n bytes each way in each, every byte
    checked: the time, and the peak summed PSS of p's processes (and how many)."""
    errs, peak, stop = [], [0, 0], threading.Event()

    def sample(once=False):
        while True:
            pids = p.pids()
            peak[:] = max(peak, [pss(pids), len(pids)])
            if once or stop.wait(0.05):
                return

    # The tunnels all open before any moves a byte, so that (e) sees them all.
    opened = threading.Barrier(conc, action=lambda: sample(once=True), timeout=60)

    def one():
        try:
            transfer(p.port, tport, p.proxied, n, n, ready=opened.wait)
        except (OSError, RuntimeError, threading.BrokenBarrierError) as e:
            errs.append(e)
            opened.abort()
    start = time.perf_counter()
    ts = [threading.Thread(target=one) for _ in range(conc)]
    for t in ts:
        t.start()
    sampler = threading.Thread(target=sample)
    sampler.start()
    for t in ts:
        t.join()
    secs = time.perf_counter() - start
    stop.set()
    sampler.join()
    if errs:
        raise RuntimeError("%d of %d concurrent tunnels failed, first: %s" % (len(errs), conc, errs[0]))
    return {"secs": secs, "pss": peak[0], "procs": peak[1]} if peak[1] else {"secs": secs}


# ---- the proxies ----------------------------------------------------------------

# The peers: (name, executable, user it runs as, configuration, command line).
# %(d)s is the peer's own directory in the bench's temporary one.
APACHE = """\
ServerRoot %(d)s
ServerName 127.0.0.1
Listen 127.0.0.1:%(port)d
PidFile %(d)s/httpd.pid
DefaultRuntimeDir %(d)s
ErrorLog %(d)s/error.log
CustomLog %(d)s/access.log "%%h %%t \\"%%r\\" %%>s %%I %%O %%D"
User %(user)s
Group %(group)s
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_connect_module /usr/lib/apache2/modules/mod_proxy_connect.so
ProxyRequests On
AllowCONNECT %(tport)d
<Proxy *>
    Require ip 127.0.0.1
</Proxy>
"""
SQUID = """\
http_port 127.0.0.1:%(port)d
visible_hostname localhost
acl client src 127.0.0.1
acl target port %(tport)d
acl connect method CONNECT
http_access allow client connect target
http_access deny all
cache deny all
cache_effective_user %(user)s
pid_filename %(d)s/squid.pid
cache_log %(d)s/cache.log
access_log stdio:%(d)s/access.log
coredump_dir %(d)s
netdb_filename none
pinger_enable off
shutdown_lifetime 0 seconds
"""
TINYPROXY = """\
User %(user)s
Group %(group)s
Listen 127.0.0.1
Port %(port)d
Timeout 600
LogFile "%(d)s/tinyproxy.log"
LogLevel Info
PidFile "%(d)s/tinyproxy.pid"
MaxClients 1000
Allow 127.0.0.1
ConnectPort %(tport)d
"""
PEERS = (("Apache", "apache2", "www-data", APACHE, "apache2 -f %s -DFOREGROUND"),
         ("Squid", "squid", "proxy", SQUID, "squid -N -f %s"),
         ("tinyproxy", "tinyproxy", "nobody", TINYPROXY, "tinyproxy -d -c %s"))


def peer(d, tport, user, conf, cmd):
    """The command line of a peer on a port, its configuration written in d."""
    def argv(port):
        pw = pwd.getpwnam(user)
        os.makedirs(d, exist_ok=True)
        if os.geteuid() == 0:            # it writes its logs there as user
            os.chown(d, pw.pw_uid, pw.pw_gid)
        path = os.path.join(d, "conf")
        with open(path, "w") as f:
            f.write(conf % dict(d=d, port=port, tport=tport, user=user, group=grp.getgrgid(pw.pw_gid).gr_name))
        return (cmd % path).split()
    return argv


def tcpserver(cmd):
    return lambda port: ["tcpserver", "-c", "1000", "-b", "1000", "-H", "-R", "-l", "0",
                         "127.0.0.1", str(port)] + cmd


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """One proxy under test: its port, whether it is spoken to with CONNECT, the
    figures it takes part in, and its process, run in a session of its own with
    its output in the file log (none for the direct connection). It is not kept unless it
    answers a CONNECT (or, for the nc relay, echoes) through to the target."""

    def __init__(self, name, figures, tport, argv=None, log=None, proxied=True, tree=True):
        self.name, self.figures, self.proxied, self.tree = name, figures, proxied, tree
        self.proc, self.port = None, tport
        if argv is None:
            return
        try:
            for _ in range(3):           # a port taken meanwhile: another
                self.port = free_port()
                with open(log, "w") as out:
                    self.proc = subprocess.Popen(argv(self.port), stdin=subprocess.DEVNULL, stdout=out,
                                                 stderr=subprocess.STDOUT, start_new_session=True)
                if self.listening():
                    break
                self.stop()
            else:
                raise RuntimeError("did not start")
            setup_once(self.port, tport, proxied)
        except (OSError, RuntimeError):
            self.stop()
            raise

    def listening(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def pids(self):
        """The processes summed for (e): the whole tree of a daemon (tree), or
        what runs under a super-server, without the super-server."""
        if not self.proc:
            return []
        pids = [self.proc.pid]
        for pid in pids:                 # grows as it goes: breadth first
            for f in glob.glob("/proc/%d/task/*/children" % pid):
                try:
                    with open(f) as c:
                        pids += [int(x) for x in c.read().split()]
                except OSError:
                    pass
        return pids if self.tree else pids[1:]

    def stop(self):
        """TERM the process group, wait, then KILL whatever is left of it."""
        if not self.proc:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass


# ---- the table and the goals --------------------------------------------------------

COLUMNS = (("(a) up MiB/s", "a", "rate", "%.0f"), ("x direct", "a", "ratio", "%.2f"),
           ("(b) down MiB/s", "b", "rate", "%.0f"), ("x direct", "b", "ratio", "%.2f"),
           ("(c) setups/s", "c", "rate", "%.0f"), ("p50 ms", "c", "p50", "%.2f"), ("p99 ms", "c", "p99", "%.2f"),
           ("(d) secs", "d", "secs", "%.2f"), ("(e) PSS KiB", "d", "pss", "%.0f"), ("procs", "d", "procs", "%.0f"))


def table(names, med, why):
    rows = [["proxy"] + [c[0] for c in COLUMNS] + ["note"]]
    for n in names:
        rows.append([n] + [fmt % med[n, f, k] if (n, f, k) in med else "-" for _, f, k, fmt in COLUMNS]
                    + [why.get(n, "")])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("| " + " | ".join(c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)
                                for i, (c, w) in enumerate(zip(r, widths))) + " |")


def goals(med, why):
    def missing(*keys):
        """None when every figure is there, else each proxy that lacks one and why."""
        gone = list(dict.fromkeys(n for n, f, k in keys if (n, f, k) not in med))
        if not gone:
            return None
        return "not measured (%s)" % "; ".join("%s %s" % (n, why.get(n, "gave no figure")) for n in gone)

    def goal(text, num, den, limit, at_most=False, also=""):
        out = missing(num, *([den] if den else []))
        if not out:
            v = med[num] / med[den] if den else med[num]
            out = "%.3f%s, %s%s" % (v, " (%.4g vs %.4g)" % (med[num], med[den]) if den else "",
                                     "met" if (v <= limit if at_most else v >= limit) else "not met", also)
        print("%s: %s" % (text, out))

    p99 = "" if missing(("connectd", "c", "p99"), ("nc relay", "c", "p99")) else \
        "; p99 %.2f ms vs %.2f ms" % (med["connectd", "c", "p99"], med["nc relay", "c", "p99"])
    print("goals of issue 6:")
    goal("(a) connectd upload >= 0.85 x direct", ("connectd", "a", "ratio"), None, 0.85)
    goal("(b) connectd download >= 0.85 x direct", ("connectd", "b", "ratio"), None, 0.85)
    goal("(c) connectd setups/s >= 0.95 x the nc relay's under tcpserver",
         ("connectd", "c", "rate"), ("nc relay", "c", "rate"), 0.95, also=p99)
    goal("(c) connectd-static (README's production build) setups/s >= 0.6 x Apache's",
         ("connectd-static", "c", "rate"), ("Apache", "c", "rate"), 0.6)
    for n in ("connectd", "connectd-static"):
        goal("(d) %s time <= 0.7 x Squid's" % n, (n, "d", "secs"), ("Squid", "d", "secs"), 0.7, True)
        goal("(e) %s PSS <= tinyproxy's" % n, (n, "d", "pss"), ("tinyproxy", "d", "pss"), 1, True)
    out = missing(("connectd", "c", "rate"), ("connectd-static", "c", "rate"))
    if not out:
        rates = sorted((med[n, "c", "rate"], n) for n in ("connectd", "connectd-static"))
        out = "%s, %.0f/s against %.0f/s" % (rates[1][1], rates[1][0], rates[0][0])
    print("(c) the faster build for setups: %s" % out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bulk-mib", type=int, default=2048)
    ap.add_argument("--setups", type=int, default=1000)
    ap.add_argument("--conc", type=int, default=100)
    ap.add_argument("--conc-mib", type=int, default=20)
    ap.add_argument("--target", metavar="PORTFILE", help=argparse.SUPPRESS)   # the target's own process
    a = ap.parse_args()
    if a.target:
        role_target(a.target)
        return
    if not shutil.which("tcpserver"):
        sys.exit("bench: needs tcpserver (apt-get install ucspi-tcp)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))   # stop the proxies
    tmp = "/tmp/connectd-bench.%d" % os.getpid()
    os.makedirs(tmp)
    portfile = os.path.join(tmp, "port")
    target = subprocess.Popen([sys.executable, __file__, "--target", portfile])
    deadline = time.monotonic() + 10
    while not os.path.exists(portfile) and time.monotonic() < deadline:
        time.sleep(0.01)
    tport = int(open(portfile).read())
    connectd = ["-a", "127.0.0.1", "-l", "stderr", str(tport)]
    # (name, figures, True or why it is not there, how it is started)
    cands = [("direct", "abcd", True, dict(proxied=False)),
             ("connectd", "abcde", True, dict(argv=tcpserver([CONNECTD] + connectd), tree=False)),
             ("connectd-static", "abcde", os.access(STATIC, os.X_OK) or "not built",
              dict(argv=tcpserver([STATIC] + connectd), tree=False)),
             ("nc relay", "c", bool(shutil.which("nc")) or "not installed",
              dict(argv=tcpserver(["nc", "-N", "127.0.0.1", str(tport)]), proxied=False, tree=False))]
    cands += [(name, "abcde", bool(shutil.which(exe)) or "not installed",
               dict(argv=peer(os.path.join(tmp, exe), tport, user, conf, cmd)))
              for name, exe, user, conf, cmd in PEERS]
    names, why = [c[0] for c in cands], {}
    proxies, res = [], {}
    try:
        for name, figures, there, kw in cands:
            if there is not True:
                why[name] = there
                continue
            try:
                log = os.path.join(tmp, name.replace(" ", "-") + ".log")
                proxies.append(Proxy(name, figures, tport, log=log, **kw))
            except (OSError, RuntimeError) as e:
                why[name] = "skipped: %s" % e
        bulk_bytes, conc_bytes = a.bulk_mib << 20, a.conc_mib << 20
        for _ in range(a.runs):
            for fig, fn, args in (("a", bulk, (bulk_bytes, 0)), ("b", bulk, (0, bulk_bytes)),
                                  ("c", setups, (a.setups,)), ("d", concurrent, (a.conc, conc_bytes))):
                for p in proxies:
                    if fig not in p.figures or p.name in why:
                        continue
                    try:
                        for k, v in fn(p, tport, *args).items():
                            res.setdefault((p.name, fig, k), []).append(v)
                    except (OSError, RuntimeError) as e:
                        why[p.name] = "failed in (%s): %s" % (fig, e)
    finally:
        for p in proxies:
            p.stop()
        target.kill()
        target.wait()
    med = {k: statistics.median(v) for k, v in res.items()}

    print("connectd bench: %s, %d cores, kernel %s, median of %d runs; (a),(b) %d MiB, (c) %d setups, "
          "(d) %d tunnels x %d MiB both ways" % (os.uname().machine, os.cpu_count(), os.uname().release,
                                                 a.runs, a.bulk_mib, a.setups, a.conc, a.conc_mib))
    table(names, med, why)
    print("(e) sums: connectd, connectd-static: the processes under tcpserver, not tcpserver; Apache: the parent "
          "and all its children; Squid (-N) and tinyproxy: their process tree (one process each, tinyproxy has a "
          "thread per client); procs: how many at the peak")
    versions = [subprocess.run([exe, "-v"], capture_output=True, text=True).stdout.split("\n")[0]
                for _, exe, _, _, _ in PEERS if shutil.which(exe)]
    print("peers: %s" % ("; ".join(versions) or "none installed"))
    goals(med, why)
    broken = [n for n, w in why.items() if w.startswith(("skipped", "failed"))]
    if broken:
        print("bench: logs kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if {"direct", "connectd", "connectd-static"} & set(broken) else 0)


if __name__ == "__main__":
    main()
