#!/usr/bin/env python3
"""TLS ends for the client tests of connectd (python3 standard library only).

  server --dir D --cert C --key K --mode echo|http
        a TLS server on 127.0.0.1, port chosen by the kernel, in D/port.
        echo: sends back every byte it gets, until the client's EOF.
        http: HTTP/1.1; POST /echo answers 200 with the request body as the
        response body, GET /N answers with N bytes of a fixed stream.
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
import codecs
import hashlib
import http.server
import os
import random
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time


def life(secs):
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(int(secs))


def unescape(s):
    return codecs.escape_decode(s.encode("latin-1"))[0]


def stream(n, seed=20240601):
    return random.Random(seed).randbytes(n)


def opt(args, name, default=None):
    if name in args:
        return args[args.index(name) + 1]
    return default


def command(args):
    return args[args.index("--") + 1:]


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


def cmd_server(args):
    life(float(opt(args, "--life", "120")))
    d = opt(args, "--dir")
    mode = opt(args, "--mode", "echo")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opt(args, "--cert"), opt(args, "--key"))
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
                self.reply(stream(n))

            def log_message(self, *a):
                pass

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                conn, addr = self.socket.accept()
                conn.settimeout(30)
                return ctx.wrap_socket(conn, server_side=True), addr

        srv = S(("127.0.0.1", 0), H)
        with open(os.path.join(d, "port.tmp"), "w") as f:
            f.write(str(srv.server_address[1]))
        os.replace(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
        srv.serve_forever()
        return 0
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.replace(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
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


def cmd_pipe(args):
    life(60)
    n = int(opt(args, "--bytes"))
    use_tls = "--tls" in args
    data = memoryview(stream(n, seed=7))
    # Without --tls the first bytes are in the command's input before it
    # starts. proxytunnel -e needs that: if its input is empty when the
    # target's TLS 1.3 session tickets come, it blocks reading the tunnel
    # for application data (which an echo server sends only after some
    # came) and never reads its input again.
    sent = 0 if use_tls else min(n, 16384)
    pipe = Pipe(command(args), time.monotonic() + 40, bytes(data[:sent]))
    got = hashlib.sha256()
    count = 0
    res = {}
    obj = inc = out = None
    if use_tls:
        ctx = ssl.create_default_context(cafile=opt(args, "--cafile"))
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname=opt(args, "--name", "127.0.0.1"))

    def feed(b):
        """Bytes read from the pipe: to the TLS object, or plain as they are."""
        if use_tls:
            if b:
                inc.write(b)
            elif pipe.eof:
                inc.write_eof()
            return b""
        return b

    def plain():
        """Decrypted bytes available now."""
        if not use_tls:
            return b""
        buf = bytearray()
        while True:
            try:
                b = obj.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                break
            if not b:
                break
            buf += b
        pipe.pending += out.read()
        return bytes(buf)

    try:
        if use_tls:
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pipe.pending += out.read()
                    b = pipe.step()
                    if pipe.eof:
                        raise ConnectionError("EOF during the TLS handshake")
                    feed(b)
            pipe.pending += out.read()
            res["tls"] = obj.version()
        while count < n:
            if sent < n and len(pipe.pending) < 262144:
                chunk = data[sent:sent + 16384]
                sent += len(chunk)
                if use_tls:
                    obj.write(chunk)
                    pipe.pending += out.read()
                else:
                    pipe.pending += chunk
            b = pipe.step()
            if pipe.eof and not b:
                raise ConnectionError("EOF after %d of %d bytes" % (count, n))
            b = feed(b) + plain()
            got.update(b)
            count += len(b)
        if use_tls:
            try:
                obj.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLError):
                pass
            pipe.pending += out.read()
        pipe.close_input()
        while not pipe.eof:
            b = pipe.step()
            if use_tls and b:
                inc.write(b)
        res["end"] = "eof"
    except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as e:
        res["end"] = "error:%s" % e
    res["rx"] = count
    res["ok"] = int(count == n and got.hexdigest() == hashlib.sha256(data).hexdigest())
    res["tx"] = n
    res["status"] = pipe.finish()
    print(" ".join("%s=%s" % kv for kv in res.items()))
    return 0 if res["ok"] and res["end"] == "eof" and res["status"] == 0 else 1


def cmd_banner(args):
    life(60)
    expect = unescape(opt(args, "--expect"))
    send = unescape(opt(args, "--send"))
    pipe = Pipe(command(args), time.monotonic() + 30)
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
    cmds = {"server": cmd_server, "pipe": cmd_pipe, "banner": cmd_banner}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit("usage: tls.py server|pipe|banner ...")
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
