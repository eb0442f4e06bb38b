#!/usr/bin/env python3
"""hostile.py: the table of hostile requests (test/hostile.cases) against
connectd, each sent whole, split in two at every offset, or one byte per read,
and good requests cut the same ways. python3 standard library only.

  hostile.py --connectd PATH --cases FILE MODE
  MODE: whole       each case in one write
        split       each case in two writes, at every offset (sampled past 300 bytes)
        bytes       each case one byte per read (cases up to 300 bytes)
        good-split  good requests with pipelined bytes, in two writes at every offset
        good-bytes  good requests one byte per read, a millisecond apart

connectd runs with -a 127.0.0.1 -t 5 PORT (PORT: a target listener here),
its socket on descriptors 0 and 1 as under a super-server. A piece is sent
only once connectd has read everything before it (the client's send queue is
empty, and connectd's socket has nothing unread: SIOCOUTQ and SIOCINQ), so
each piece is one read, and a split is where the test says it is.

A refusal must be exactly the table's status with its Proxy-Status error,
connectd must exit 1 (4xx) or 111 (5xx) by itself, log exactly one line
"client=127.0.0.1:P target=T status=S error=E", and the target must get no
connection. A good request must get exactly the 200, then the target's reply;
the target must get exactly the bytes after the head; exit 0 and the two log
lines. Every run is bounded. Prints one line per failure, naming the case, its
line in the table and the split, then a summary; exits 1 on any failure.
Traffic stays on 127.0.0.1.
"""
import argparse
import fcntl
import os
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (clean_env, refusal_problems)
from common import life, unescape  # noqa: E402

OK200 = b"HTTP/1.1 200 Connection established\r\n\r\n"
SIOCOUTQ = 0x5411               # TIOCOUTQ: bytes the peer has not acknowledged
LONG = 300                      # past this, offsets are sampled and bytes mode skips
ALLOWED = {400: "4", 403: "4", 405: "4", 431: "4", 505: "5"}
GOOD = [
    ("HTTP/1.1 with Host and a pipelined ClientHello",
     b"CONNECT 127.0.0.1:@PORT@ HTTP/1.1\r\nHost: 127.0.0.1:@PORT@\r\n\r\n",
     b"\x16\x03\x01\x00\x05hello"),
    ("HTTP/1.0, bare LF, empty lines first",
     b"\r\n\nCONNECT 127.0.0.1:@PORT@ HTTP/1.0\nUser-Agent: x\n\n", b"up"),
    ("[::ffff:127.0.0.1] with CRLF", b"CONNECT [::ffff:127.0.0.1]:@PORT@ HTTP/1.1\r\n"
     b"Proxy-Connection: keep-alive\r\nHost: x\r\nX-Obs: \x80\xff\t\r\n\r\n", b""),
]


def unread(sock):
    return struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0]


def unacked(sock):
    return struct.unpack("i", fcntl.ioctl(sock, SIOCOUTQ, b"\0\0\0\0"))[0]


class Runner:
    def __init__(self, a):
        self.connectd = a.connectd
        self.front = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.front.bind(("127.0.0.1", 0))
        self.front.listen(8)
        self.target = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.target.bind(("127.0.0.1", 0))
        self.target.listen(64)
        self.tport = self.target.getsockname()[1]
        self.args = ["-a", "127.0.0.1", "-t", "5", str(self.tport)]
        self.env = harness.clean_env([])
        self.runs = 0

    def port(self, b):
        return b.replace(b"@PORT@", str(self.tport).encode())

    def exchange(self, pieces, serve=None):
        """Send the pieces, one read each, half-close, read to EOF. Returns
        (response, exit status or a string, log text, client address)."""
        self.runs += 1
        c = socket.create_connection(self.front.getsockname(), timeout=5)
        s, _ = self.front.accept()
        p = subprocess.Popen([self.connectd] + self.args, stdin=s.fileno(), stdout=s.fileno(),
                             stderr=subprocess.PIPE, env=self.env, close_fds=True)
        local = "%s:%d" % c.getsockname()
        out = bytearray()
        end = time.monotonic() + 10
        problem = None
        try:
            for i, piece in enumerate(pieces):
                c.sendall(piece)
                if i == len(pieces) - 1:
                    break
                # Until connectd has read it all (or is gone); what it
                # answers meanwhile is kept.
                while (unacked(c) or unread(s)) and p.poll() is None:
                    if time.monotonic() > end:
                        problem = "connectd did not read a piece within 10 s"
                        break
                    r, _, _ = select.select([c], [], [], 0.0005)
                    if r:
                        out += c.recv(65536)
                if problem:
                    break
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            problem = "sending: %s" % e
        s.close()       # connectd's copy alone: its exit closes the connection
        try:
            while time.monotonic() < end:
                r, _, _ = select.select([c], [], [], max(0.0, end - time.monotonic()))
                if not r:
                    continue
                b = c.recv(65536)
                if not b:
                    break
                out += b
            else:
                problem = problem or "no EOF from connectd within 10 s"
        except OSError as e:
            problem = problem or "receiving: %s" % e
        try:
            status = p.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            status = "hung (killed)"
        log = p.stderr.read().decode("latin-1")
        p.stderr.close()
        c.close()
        if serve is not None:
            serve.join(12)
        return bytes(out), status, log, local, problem

    def untouched(self):
        """No connection reached the target (kernel-completed ones included)."""
        self.target.setblocking(False)
        got = 0
        try:
            while True:
                conn, _ = self.target.accept()
                conn.close()
                got += 1
        except BlockingIOError:
            pass
        finally:
            self.target.setblocking(True)
        return got

    def refusal(self, case, pieces):
        out, status, log, local, problem = self.exchange(pieces)
        problems = [problem] if problem else []
        code, error = case["status"], case["error"]
        problems += harness.refusal_problems(out, code, error.split(" ")[0])
        want = 1 if code < 500 else 111
        if status != want:
            problems.append("exit status %s, expected %d" % (status, want))
        line = "client=%s target=%s status=%d error=%s" % (
            local, self.port(case["logtarget"].encode()).decode(), code, self.port(error.encode()).decode())
        if log != line + "\n":
            problems.append("log %r, expected %r" % (log, line + "\n"))
        n = self.untouched()
        if n:
            problems.append("the target got %d connection(s)" % n)
        if problems:
            problems.append("got %r" % out[:200])
        return problems

    def good(self, head, after, pieces):
        got = {}

        def serve():
            self.target.settimeout(10)
            try:
                conn, _ = self.target.accept()
            except OSError as e:
                got["error"] = "target: no connection (%s)" % e
                return
            conn.settimeout(10)
            data = bytearray()
            try:
                while True:
                    b = conn.recv(65536)
                    if not b:
                        break
                    data += b
                conn.sendall(b"ok\n")
            except OSError as e:
                got["error"] = "target: %s" % e
            conn.close()
            got["data"] = bytes(data)
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        out, status, log, local, problem = self.exchange(pieces, serve=t)
        problems = [problem] if problem else []
        if "error" in got:
            problems.append(got["error"])
        if out != OK200 + b"ok\n":
            problems.append("client got %r, expected the 200 and ok" % out[:200])
        if got.get("data") != after:
            problems.append("target got %r, expected %r" % (got.get("data"), after))
        if status != 0:
            problems.append("exit status %s, expected 0" % status)
        c = re.escape(local)
        m = re.search(rb"CONNECT (\S+) ", head)
        t_ = re.escape(m.group(1).decode())
        addr = re.escape("127.0.0.1:%d" % self.tport)    # [::ffff:127.0.0.1] goes over IPv4
        pat = ("client=%s target=%s addr=%s proxy-source-port=[0-9]+ status=200\n"
               "client=%s target=%s status=200 up=%d down=3 secs=[0-9]+\\.[0-9]{3} end=eof\n") % (
            c, t_, addr, c, t_, len(after))
        if not re.fullmatch(pat, log):
            problems.append("log %r" % log)
        return problems


def expand(text):
    """{N*TEXT}: TEXT N times; then Python bytes escapes."""
    text = re.sub(r"\{(\d+)\*([^{}]*)\}", lambda m: m.group(2) * int(m.group(1)), text)
    return unescape(text)


def load(path):
    cases = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        f = re.split(r"\t+", line.rstrip("\n"))
        if len(f) != 5:
            sys.exit("%s:%d: expected 5 tab-separated fields, got %d" % (path, n, len(f)))
        name, status, error, logtarget, request = f
        code = int(status)
        if code not in ALLOWED:
            # Only refusals that need no DNS lookup and no connection: the
            # table must never make connectd send a packet.
            sys.exit("%s:%d: status %d is not one this table may expect" % (path, n, code))
        cases.append({"name": name, "line": n, "status": code, "error": error,
                      "logtarget": logtarget, "request": expand(request)})
    names = [c["name"] for c in cases]
    dup = {x for x in names if names.count(x) > 1}
    if dup:
        sys.exit("%s: cases named twice: %s" % (path, ", ".join(sorted(dup))))
    return cases


def offsets(n):
    """Every split point of n bytes, or a sample past LONG bytes."""
    if n <= LONG:
        return range(1, n)
    return sorted(set(list(range(1, 64)) + list(range(n - 64, n)) +
                      [n * k // 32 for k in range(1, 32)]))


def main():
    ap = argparse.ArgumentParser(prog="hostile.py")
    ap.add_argument("--connectd", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("mode", choices=("whole", "split", "bytes", "good-split", "good-bytes"))
    a = ap.parse_args()
    life(600)
    r = Runner(a)
    cases = load(a.cases)
    t0 = time.monotonic()
    failed = shown = 0

    def report(what, problems):
        nonlocal failed, shown
        if not problems:
            return
        failed += 1
        if shown < 40:
            shown += 1
            print("FAIL %s: %s" % (what, "; ".join(problems)))

    if a.mode in ("whole", "split", "bytes"):
        for c in cases:
            req = r.port(c["request"])
            what = "case '%s' (%s line %d)" % (c["name"], a.cases, c["line"])
            if a.mode == "whole":
                report(what + " sent whole", r.refusal(c, [req]))
            elif a.mode == "split":
                for k in offsets(len(req)):
                    report(what + " split at byte %d of %d" % (k, len(req)),
                           r.refusal(c, [req[:k], req[k:]]))
            elif len(req) <= LONG and len(req) > 1:
                report(what + " one byte per read", r.refusal(c, [req[i:i + 1] for i in range(len(req))]))
        count = len(cases)
    else:
        for name, head, after in GOOD:
            req = r.port(head + after)
            head = r.port(head)
            if a.mode == "good-split":
                for k in offsets(len(req)):
                    report("good request '%s' split at byte %d of %d" % (name, k, len(req)),
                           r.good(head, after, [req[:k], req[k:]]))
            else:
                pieces = [req[i:i + 1] for i in range(len(req))]
                report("good request '%s' one byte per read" % name, r.good(head, after, pieces))
        count = len(GOOD)
    print("hostile.py %s: %d cases, %d runs of connectd, %d failed, %.1f s" % (
        a.mode, count, r.runs, failed, time.monotonic() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
