#!/usr/bin/env python3
"""One bulk transfer through a connectd tunnel and the same transfer direct, on loopback.

Prints the throughput of each, their ratio, and the peak RSS of the connectd
process. Usage: bench/tunnel.py [MiB] [up|down]   (default 1024 up)
Traffic goes to 127.0.0.1 only.
"""
import os
import socket
import subprocess
import sys
import threading
import time

CHUNK = 1 << 18
HERE = os.path.dirname(os.path.abspath(__file__))
CONNECTD = os.path.join(HERE, "..", "connectd")


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s, s.getsockname()[1]


def serve(lsock, total, direction, done):
    """The target: sink (up) or source (down) of total bytes, then close."""
    c, _ = lsock.accept()
    buf = bytearray(CHUNK)
    if direction == "up":
        got = 0
        while True:
            n = c.recv_into(buf)
            if n == 0:
                break
            got += n
        done.append(got)
    else:
        left = total
        while left > 0:
            left -= c.send(memoryview(buf)[:min(CHUNK, left)])
        c.shutdown(socket.SHUT_WR)
        while c.recv(CHUNK):
            pass
        done.append(total)
    c.close()


def pump(sock, total, direction):
    buf = bytearray(CHUNK)
    if direction == "up":
        left = total
        while left > 0:
            left -= sock.send(memoryview(buf)[:min(CHUNK, left)])
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(CHUNK):
            pass
    else:
        sock.shutdown(socket.SHUT_WR)
        got = 0
        while True:
            n = sock.recv_into(buf)
            if n == 0:
                break
            got += n
        assert got == total, (got, total)


def run(total, direction, proxied):
    tl, tport = listener()
    done = []
    t = threading.Thread(target=serve, args=(tl, total, direction, done))
    t.start()
    proc = None
    if proxied:
        pl, pport = listener()
        c = socket.create_connection(("127.0.0.1", pport))
        a, _ = pl.accept()
        proc = subprocess.Popen(os.environ.get("WRAP", "").split() + [CONNECTD, "-a", "127.0.0.1", "-l", "stderr", str(tport)],
                                stdin=a, stdout=a, stderr=subprocess.DEVNULL)
        a.close()
        pl.close()
        c.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % tport)
        want = b"HTTP/1.1 200 Connection established\r\n\r\n"
        got = b""
        while len(got) < len(want):
            got += c.recv(len(want) - len(got))
        assert got == want, got
    else:
        c = socket.create_connection(("127.0.0.1", tport))
    peak = []
    if proc:
        threading.Thread(target=hwm, args=(proc.pid, peak), daemon=True).start()
    start = time.monotonic()
    pump(c, total, direction)
    t.join()
    secs = time.monotonic() - start
    c.close()
    tl.close()
    if proc:
        proc.wait(timeout=30)
    return secs, max(peak, default=0)


def hwm(pid, peak):
    """Sample the peak resident set (VmHWM) of pid until it is gone."""
    try:
        while True:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak.append(int(line.split()[1]))
            time.sleep(0.02)
    except (OSError, ValueError):
        pass


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    direction = sys.argv[2] if len(sys.argv) > 2 else "up"
    total = mib << 20
    direct, _ = run(total, direction, False)
    tunnel, rss = run(total, direction, True)
    print("%d MiB %s  direct %.0f MiB/s  tunnel %.0f MiB/s  ratio %.2f  connectd peak RSS %d KiB"
          % (mib, direction, mib / direct, mib / tunnel, direct / tunnel, rss))


if __name__ == "__main__":
    main()
