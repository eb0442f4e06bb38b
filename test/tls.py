#!/usr/bin/env python3
"""TLS ends for the client tests of connectd (python3 standard library only).

  server --dir D --cert C --key K [--mode echo|http] [--life SECS]
        a TLS server on 127.0.0.1, port chosen by the kernel, in D/port.
        echo: sends back every byte it gets, until the client's EOF.
        http: HTTP/1.1; POST /echo answers 200 with the request body as the
        response body, GET /N answers with the first N bytes of the stream
        of test/common.py.
        One line per connection in D/events: "done n=N rx=.. rxsha=.. tx=..
        txsha=.. tls=VERSION" (http: "request METHOD PATH len=..").
  pipe [--tls --cafile C --name NAME] --bytes N -- CMD...
        runs CMD (a client such as nc or proxytunnel that relays its standard
        input and output through the proxy), speaks TLS over its pipes (with
        --tls; else plain bytes), sends N bytes, reads the N bytes echoed back,
        checks them, ends the connection (close_notify, then EOF on CMD's
        input) and waits for CMD to exit. Prints key=value results.
  banner --expect BYTES --send BYTES -- CMD...
        runs CMD, sends nothing until BYTES (escapes) came out of it first,
        then sends BYTES, closes CMD's input and reads to EOF. Prints the
        output's bytes (escaped) and CMD's exit status.

Every wait is bounded; traffic goes to 127.0.0.1 only.
"""
import hashlib
import http.server
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

from common import Commands, life, stream, stream_sha, unescape, write_atomic


# ---------------------------------------------------------------- server

def echo_conn(conn, k, ev):
    h_rx, h_tx = hashlib.sha256(), hashlib.sha256()
    rx = tx = 0
    end = "eof"
    version = None
    try:
        conn.do_handshake()
        version = conn.version()
        while True:
            b = conn.recv(65536)
            if not b:
                break
            rx += len(b)
            h_rx.update(b)
            conn.sendall(b)
            tx += len(b)
            h_tx.update(b)
        try:
            conn.unwrap()
        except (OSError, ValueError):
            pass
    except (OSError, ssl.SSLError) as e:
        end = "error:%s" % e.__class__.__name__
    ev("done n=%d rx=%d rxsha=%s tx=%d txsha=%s tls=%s end=%s" % (
        k, rx, h_rx.hexdigest(), tx, h_tx.hexdigest(), version, end))
    conn.close()


def cmd_server(a):
    life(a.life)
    d = a.dir
    mode = a.mode
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    lock = threading.Lock()
    events = open(os.path.join(d, "events"), "a", buffering=1)

    def ev(line):
        with lock:
            events.write(line + "\n")
            events.flush()

    signal.signal(signal.SIGTERM, lambda s, f: os._exit(0))
    if mode == "http":
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def reply(self, body):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                ev("request POST %s len=%d sha=%s tls=%s" % (
                    self.path, len(body), hashlib.sha256(body).hexdigest(),
                    self.connection.version()))
                self.reply(body)

            def do_GET(self):
                n = int(self.path.strip("/") or "0")
                ev("request GET %s len=0 tls=%s" % (self.path, self.connection.version()))
                self.reply(bytes(stream(0, n)))

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                conn, addr = self.socket.accept()
                conn.settimeout(30)
                return ctx.wrap_socket(conn, server_side=True), addr

        srv = S(("127.0.0.1", 0), H)
        write_atomic(os.path.join(d, "port"), str(srv.server_address[1]))
        srv.serve_forever()
        return 0
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    write_atomic(os.path.join(d, "port"), str(ls.getsockname()[1]))
    k = 0
    while True:
        conn, _ = ls.accept()
        conn.settimeout(30)
        k += 1
        tconn = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        threading.Thread(target=echo_conn, args=(tconn, k, ev), daemon=True).start()


# ---------------------------------------------------------------- pipe client

class Pipe:
    """A child's standard input and output, driven without blocking. first
    (at most a pipe's capacity) is in the child's input before it starts."""

    def __init__(self, argv, deadline, first=b""):
        rin, self.win = os.pipe()
        if first:
            os.write(self.win, first)       # an empty pipe takes 64 KiB whole
        self.p = subprocess.Popen(argv, stdin=rin, stdout=subprocess.PIPE, stderr=sys.stderr)
        os.close(rin)
        self.rout = self.p.stdout.fileno()
        os.set_blocking(self.win, False)
        self.pending = bytearray()
        self.eof = False
        self.deadline = deadline

    def step(self, want_write=True):
        """Write what is pending, read what is there; return bytes read."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no progress before the deadline")
        w = [self.win] if self.pending and self.win is not None and want_write else []
        r = [self.rout] if not self.eof else []
        if not r and not w:
            return b""
        r, w, _ = select.select(r, w, [], min(left, 0.5))
        if w:
            try:
                n = os.write(self.win, self.pending)
                del self.pending[:n]
            except BlockingIOError:
                pass
        if r:
            b = os.read(self.rout, 65536)
            if not b:
                self.eof = True
            return b
        return b""

    def close_input(self):
        while self.pending:
            self.step()
        os.close(self.win)
        self.win = None

    def finish(self):
        left = max(0.1, self.deadline - time.monotonic())
        try:
            return self.p.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return "timeout"


class PlainEnd:
    """The client's end without TLS: bytes go to the pipe as they are."""

    def __init__(self, pipe):
        self.pipe = pipe

    def handshake(self):
        return None

    def write(self, b):
        self.pipe.pending += b

    def read(self, b):
        """Bytes read from the pipe: the bytes that came through."""
        return b

    def close(self):
        pass

    def rest(self, b):
        """Bytes read from the pipe after the close."""


class TlsEnd:
    """The client's end of a TLS connection over the pipe (memory BIOs)."""

    def __init__(self, pipe, cafile, name):
        self.pipe = pipe
        ctx = ssl.create_default_context(cafile=cafile)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=name)

    def flush(self):
        """What TLS has to send, to the pipe."""
        self.pipe.pending += self.out.read()

    def handshake(self):
        """The whole handshake; returns the TLS version."""
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                b = self.pipe.step()
                if self.pipe.eof:
                    raise ConnectionError("EOF during the TLS handshake")
                if b:
                    self.inc.write(b)
        self.flush()
        return self.obj.version()

    def write(self, b):
        self.obj.write(b)
        self.flush()

    def read(self, b):
        """Bytes read from the pipe in; the plain bytes decrypted so far out."""
        if b:
            self.inc.write(b)
        elif self.pipe.eof:
            self.inc.write_eof()
        buf = bytearray()
        while True:
            try:
                got = self.obj.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not got:
                break
            buf += got
        self.flush()
        return bytes(buf)

    def close(self):
        """close_notify."""
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        self.flush()

    def rest(self, b):
        if b:
            self.inc.write(b)


class PipeRun:
    """What the pipe client's steps share: the child, the end (plain or TLS),
    how many bytes to send, what came back, the results."""

    def __init__(self, a):
        self.n = a.bytes
        # Without --tls the first bytes are in the command's input before it
        # starts. proxytunnel -e needs that: if its input is empty when the
        # target's TLS 1.3 session tickets come, it blocks reading the tunnel
        # for application data (which an echo server sends only after some
        # came) and never reads its input again.
        first = b"" if a.tls else bytes(stream(0, min(self.n, 16384)))
        self.sent = len(first)
        self.pipe = Pipe(a.command, time.monotonic() + 40, first)
        self.end = TlsEnd(self.pipe, a.cafile, a.name) if a.tls else PlainEnd(self.pipe)
        self.got = hashlib.sha256()
        self.count = 0
        self.res = {}


# The pipe client's steps, in order; each raises when it cannot go on.

def pipe_handshake(x):
    """With --tls, the TLS handshake through the proxy."""
    version = x.end.handshake()
    if version is not None:
        x.res["tls"] = version


def pipe_exchange(x):
    """Send the N bytes while reading what comes back, until N came back."""
    while x.count < x.n:
        if x.sent < x.n and len(x.pipe.pending) < 262144:
            chunk = stream(x.sent, min(16384, x.n - x.sent))
            x.sent += len(chunk)
            x.end.write(chunk)
        b = x.pipe.step()
        if x.pipe.eof and not b:
            raise ConnectionError("EOF after %d of %d bytes" % (x.count, x.n))
        b = x.end.read(b)
        x.got.update(b)
        x.count += len(b)


def pipe_close(x):
    """close_notify (with --tls), then EOF on the command's input."""
    x.end.close()
    x.pipe.close_input()


def pipe_drain(x):
    """Read the command's output to its EOF."""
    while not x.pipe.eof:
        x.end.rest(x.pipe.step())


PIPE_STEPS = (pipe_handshake, pipe_exchange, pipe_close, pipe_drain)


def cmd_pipe(a):
    life(60)
    x = PipeRun(a)
    try:
        for step in PIPE_STEPS:
            step(x)
        x.res["end"] = "eof"
    except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as e:
        x.res["end"] = "error:%s" % e
    res = x.res
    res["rx"] = x.count
    res["ok"] = int(x.count == x.n and x.got.hexdigest() == stream_sha(x.n))
    res["tx"] = x.n
    res["status"] = x.pipe.finish()
    print(" ".join("%s=%s" % kv for kv in res.items()))
    return 0 if res["ok"] and res["end"] == "eof" and res["status"] == 0 else 1


def cmd_banner(a):
    life(60)
    expect = unescape(a.expect)
    send = unescape(a.send)
    pipe = Pipe(a.command, time.monotonic() + 30)
    got = bytearray()
    first = None
    try:
        while len(got) < len(expect) and not pipe.eof:
            got += pipe.step()
        first = bytes(got[:len(expect)])
        pipe.pending += send
        pipe.close_input()
        while not pipe.eof:
            got += pipe.step()
    except (OSError, TimeoutError) as e:
        print("error=%s" % e)
    status = pipe.finish()
    print("first=%r" % first)
    print("out=%r" % bytes(got))
    print("status=%s" % status)
    return 0


def main():
    c = Commands("tls.py", __doc__)
    q = c.add("server", cmd_server)
    q.add_argument("--dir", required=True)
    q.add_argument("--cert", required=True)
    q.add_argument("--key", required=True)
    q.add_argument("--mode", default="echo", choices=("echo", "http"))
    q.add_argument("--life", type=float, default=120)
    q = c.add("pipe", cmd_pipe, command=True)
    q.add_argument("--tls", action="store_true")
    q.add_argument("--cafile")
    q.add_argument("--name", default="127.0.0.1")
    q.add_argument("--bytes", type=int, required=True)
    q = c.add("banner", cmd_banner, command=True)
    q.add_argument("--expect", required=True)
    q.add_argument("--send", required=True)
    return c.run()


if __name__ == "__main__":
    sys.exit(main())
