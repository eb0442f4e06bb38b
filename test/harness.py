#!/usr/bin/env python3
"""Test harness for connectd (python3 standard library only).

Subcommands, each a short-lived process bounded by its own time limit:

  launch   plays the super-server: listens on 127.0.0.1:0 or [::1]:0, writes the
           port to DIR/port, accepts ONE connection and runs the command with the
           socket on descriptors 0 and 1 (or, with --pipes, with two pipes that it
           relays to and from the socket); stderr goes to DIR/stderr (or is the
           socket, or is closed: --stderr); its pid goes to DIR/pid, its exit
           status to DIR/status, its run time to DIR/elapsed, the CPU seconds
           it and its children used to DIR/cpu.
  target   a server for connectd to connect to; see --help. Writes DIR/port and
           one line per event to DIR/events, received bytes to DIR/rx.N.
  client   connects, runs a list of steps (send, pause, shut, ...), records what
           came back: DIR/out (raw bytes) and key=value lines in DIR/info.
  dns      a DNS stub on UDP ADDR:53 that logs each query and answers NXDOMAIN
           (or stays silent).
  syslog   a syslog stub: a datagram socket at PATH; messages to DIR/messages.
  http     a small HTTP/1.0 server serving a fixed deterministic body.
  checkresp  checks that a file holds exactly one refusal response of connectd.
  streamsha N / streamcat N   the sha256 / the bytes of N bytes of the stream.

The stream is test/common.py's deterministic byte stream, the same in every
tool and in the bench.

Traffic goes to 127.0.0.0/8 and ::1 only.
"""
import hashlib
import http.server
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from common import (Commands, life, send_stream, stop_on_term, stream, stream_sha,
                    stream_write, syslog_stub, unescape, write_atomic)

SAVE_MAX = 1 << 20              # received bytes kept in files, at most


def fam_host(family):
    if family == "6":
        return socket.AF_INET6, "::1"
    return socket.AF_INET, "127.0.0.1"


def fmt_addr(sa):
    if ":" in sa[0]:
        return "[%s]:%d" % (sa[0], sa[1])
    return "%s:%d" % (sa[0], sa[1])


def wait_path(path, secs):
    end = time.monotonic() + secs
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit("harness: timed out waiting for %s" % path)
        time.sleep(0.01)


# ---------------------------------------------------------------- launch

def clean_env(extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TCPREMOTEIP", "TCPREMOTEPORT", "TCPREMOTEHOST",
                        "TCPLOCALIP", "TCPLOCALPORT", "TCPLOCALHOST",
                        "PROTO", "REMOTE_HOST", "REMOTE_ADDR")}
    for kv in extra:
        k, _, v = kv.partition("=")
        env[k] = v
    return env


def write_all(fd, b):
    mv = memoryview(b)
    while mv:
        k = os.write(fd, mv)
        mv = mv[k:]


def pump_in_loop(conn, wfd):
    try:
        while True:
            b = conn.recv(65536)
            if not b:
                break
            write_all(wfd, b)
    except OSError:
        pass
    finally:
        try:
            os.close(wfd)
        except OSError:
            pass


def pump_out(rfd, conn):
    """pipe -> socket; EOF on the pipe shuts down the socket's sending side."""
    try:
        while True:
            b = os.read(rfd, 65536)
            if not b:
                break
            conn.sendall(b)
    except OSError:
        pass
    finally:
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        os.close(rfd)


def symbolize(path):
    """A sanitizer build's report names modules and offsets (test/sanopts.c):
    put function, file and line in, with asan_symbolize (clang), if there is
    a report and the tool; the raw text is kept in PATH.raw."""
    try:
        data = open(path, "rb").read()
    except OSError:
        return
    tool = shutil.which("asan_symbolize")
    if b"Sanitizer" not in data or tool is None:
        return
    try:
        out = subprocess.run([tool], input=data, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return
    if out:
        os.replace(path, path + ".raw")
        with open(path, "wb") as f:
            f.write(out)


def cmd_launch(a):
    life(a.timeout + 30)
    d = a.dir
    fam, host = fam_host(a.family)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.bind((host, 0))
    ls.listen(1)
    write_atomic(os.path.join(d, "port"), str(ls.getsockname()[1]))
    ls.settimeout(a.accept_timeout)
    try:
        conn, _ = ls.accept()
    except socket.timeout:
        write_atomic(os.path.join(d, "status"), "noclient")
        return 1
    ls.close()
    conn.settimeout(None)
    env = clean_env(a.env)
    err = open(os.path.join(d, "stderr"), "wb")    # stays empty unless --stderr file
    errfd = conn.fileno() if a.stderr == "socket" else err.fileno()
    pre = (lambda: os.close(2)) if a.stderr == "closed" else None
    child = []

    def term(signum, frame):
        for p in child:
            try:
                p.kill()
            except OSError:
                pass
        os._exit(2)
    signal.signal(signal.SIGTERM, term)
    t0 = time.monotonic()
    threads = []
    if not a.pipes:
        p = subprocess.Popen(a.command, stdin=conn.fileno(), stdout=conn.fileno(),
                             stderr=errfd, env=env, close_fds=True, preexec_fn=pre)
        child.append(p)
        conn.close()
        write_atomic(os.path.join(d, "pid"), str(p.pid))
    else:
        r0, w0 = os.pipe()
        r1, w1 = os.pipe()
        p = subprocess.Popen(a.command, stdin=r0, stdout=w1, stderr=errfd, env=env,
                             close_fds=True, preexec_fn=pre)
        child.append(p)
        write_atomic(os.path.join(d, "pid"), str(p.pid))
        os.close(r0)
        os.close(w1)
        threads = [threading.Thread(target=pump_in_loop, args=(conn, w0), daemon=True),
                   threading.Thread(target=pump_out, args=(r1, conn), daemon=True)]
        for t in threads:
            t.start()
    err.close()
    try:
        rc = p.wait(timeout=a.timeout)
        status = str(rc) if rc >= 0 else "signal%d" % -rc
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        status = "timeout"
    elapsed = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    write_atomic(os.path.join(d, "cpu"), "%.3f" % (ru.ru_utime + ru.ru_stime))
    symbolize(os.path.join(d, "stderr"))
    if threads:
        threads[1].join(5)
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        threads[0].join(5)
        conn.close()
    write_atomic(os.path.join(d, "elapsed"), "%.3f" % elapsed)
    write_atomic(os.path.join(d, "status"), status)
    return 0


# ---------------------------------------------------------------- target

class Events:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def put(self, line):
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


class Receiver:
    """Reads a socket to EOF: counts, hashes, keeps the first SAVE_MAX bytes."""

    def __init__(self, sock):
        self.sock = sock
        self.count = 0
        self.h = hashlib.sha256()
        self.saved = bytearray()
        self.end = None
        self.done = threading.Event()

    def run(self):
        buf = bytearray(262144)
        mv = memoryview(buf)
        try:
            while True:
                n = self.sock.recv_into(buf)
                if n == 0:
                    self.end = "eof"
                    break
                self.count += n
                self.h.update(mv[:n])
                if len(self.saved) < SAVE_MAX:
                    self.saved += mv[:min(n, SAVE_MAX - len(self.saved))]
        except ConnectionResetError:
            self.end = "reset"
        except OSError as e:
            self.end = "error:%s" % e.errno
        self.done.set()


def reset(sock):
    """Close with SO_LINGER 0: the peer gets a TCP reset, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def serve_conn(a, conn, peer, k, ev):
    conn.settimeout(None)
    rcv = Receiver(conn)
    tx = 0
    th = hashlib.sha256()
    senderr = ""
    try:
        if a.no_read:
            # Accept, send what was asked, and never read: the peer's bytes
            # pile up in this socket's buffers until the end.
            if a.send:
                b = unescape(a.send)
                conn.sendall(b)
                tx += len(b)
            stop_serving.wait()
            rcv.end = "stopped"
        elif a.rst_after is not None:
            # Send, read until rst_after bytes came, then reset the connection.
            if a.send:
                b = unescape(a.send)
                conn.sendall(b)
                th.update(b)
                tx += len(b)
            buf = bytearray(65536)
            while rcv.count < a.rst_after:
                n = conn.recv_into(buf, min(len(buf), a.rst_after - rcv.count))
                if n == 0:
                    break
                rcv.count += n
                rcv.h.update(buf[:n])
                rcv.saved += buf[:n]
            rcv.end = "rst" if rcv.count >= a.rst_after else "eof"
            with open(os.path.join(a.dir, "rx.%d" % k), "wb") as f:
                f.write(rcv.saved)
            ev.put("done n=%d peer=%s rx=%d rxsha=%s tx=%d txsha=%s end=%s" % (
                k, fmt_addr(peer), rcv.count, rcv.h.hexdigest(), tx, th.hexdigest(), rcv.end))
            reset(conn)
            return
        elif a.echo:
            rcv.h = None
            buf = bytearray(65536)
            while True:
                n = conn.recv_into(buf)
                if n == 0:
                    rcv.end = "eof"
                    break
                rcv.count += n
                if len(rcv.saved) < SAVE_MAX:
                    rcv.saved += buf[:n]
                conn.sendall(buf[:n])
                tx += n
            conn.shutdown(socket.SHUT_WR)
        else:
            t = threading.Thread(target=rcv.run, daemon=True)
            t.start()
            if a.send:
                b = unescape(a.send)
                conn.sendall(b)
                th.update(b)
                tx += len(b)
            for b, flags in ((a.urgent, socket.MSG_OOB), (a.then, 0)):
                if b:
                    b = unescape(b)
                    conn.send(b, flags)
                    th.update(b)
                    tx += len(b)
            if a.bytes:
                tx += send_stream(conn, a.bytes, th)
            if not a.wait_eof:
                conn.shutdown(socket.SHUT_WR)
            rcv.done.wait()
            if a.wait_eof:
                if a.reply:
                    b = unescape(a.reply)
                    conn.sendall(b)
                    th.update(b)
                    tx += len(b)
                conn.shutdown(socket.SHUT_WR)
    except OSError as e:
        senderr = " senderr=%s" % (e.errno,)
        rcv.done.wait(30)
    with open(os.path.join(a.dir, "rx.%d" % k), "wb") as f:
        f.write(rcv.saved)
    rxsha = rcv.h.hexdigest() if rcv.h is not None else "-"
    ev.put("done n=%d peer=%s rx=%d rxsha=%s tx=%d txsha=%s end=%s%s" % (
        k, fmt_addr(peer), rcv.count, rxsha, tx, th.hexdigest(), rcv.end, senderr))
    conn.close()


def fill_backlog(ls, fam, addr):
    """Make a listener with listen(0) refuse to complete any more handshakes."""
    fillers = []
    for _ in range(8):
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(addr)
        except BlockingIOError:
            pass
        fillers.append(c)
        time.sleep(0.05)
        probe = socket.socket(fam, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect(addr)
            fillers.append(probe)       # it got in: the queue is not full yet
        except (socket.timeout, OSError):
            probe.close()
            return fillers
    sys.exit("harness: could not fill the listen queue")


FILLERS = []
stop_serving = threading.Event()     # set when the target is told to stop


def cmd_target(a):
    life(a.life)
    d = a.dir
    fam, host = fam_host(a.family)
    if a.addr:
        host = a.addr
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, a.port))
    addr = ls.getsockname()
    if a.mode == "listen":
        ls.listen(64)
    elif a.mode == "never":
        ls.listen(0)
        FILLERS.extend(fill_backlog(ls, fam, addr[:2]))   # kept open till the end
    ev = Events(os.path.join(d, "events"))
    stop = stop_serving
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    write_atomic(os.path.join(d, "port"), str(addr[1]))
    if a.mode != "listen":
        while not stop.wait(0.05):
            pass
        write_atomic(os.path.join(d, "stopped"), "0")
        return 0
    ls.settimeout(0.05)
    k = 0
    while not stop.is_set():
        try:
            conn, peer = ls.accept()
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        k += 1
        ev.put("accept n=%d peer=%s" % (k, fmt_addr(peer)))
        threading.Thread(target=serve_conn, args=(a, conn, peer, k, ev),
                         daemon=True).start()
    # Count what is still waiting in the queue: those connections were made too.
    ls.setblocking(False)
    while True:
        try:
            conn, peer = ls.accept()
        except OSError:
            break
        k += 1
        ev.put("accept n=%d peer=%s late" % (k, fmt_addr(peer)))
        conn.close()
    write_atomic(os.path.join(d, "stopped"), str(k))
    os._exit(0)


# ---------------------------------------------------------------- client

class ClientReader:
    """Reads everything: the response head first, then tunnel bytes (hashed)."""

    def __init__(self, sock, t0):
        self.sock = sock
        self.t0 = t0
        self.head = bytearray()
        self.head_done = False
        self.count = 0
        self.h = hashlib.sha256()
        self.saved = bytearray()
        self.t_first = None
        self.t_eof = None
        self.end = None
        self.moved = time.monotonic()   # when bytes last moved either way
        self.got = threading.Event()     # any byte, or the end
        self.head_ev = threading.Event()
        self.eof = threading.Event()

    def tunnel(self, mv):
        self.count += len(mv)
        self.h.update(mv)
        if len(self.saved) < SAVE_MAX:
            self.saved += mv[:SAVE_MAX - len(self.saved)]

    def run(self):
        buf = bytearray(262144)
        mv = memoryview(buf)
        try:
            while True:
                try:
                    n = self.sock.recv_into(buf)
                except socket.timeout:
                    continue            # the sender's timeout; stalls are judged elsewhere
                if n == 0:
                    self.end = "eof"
                    break
                self.moved = time.monotonic()
                if self.t_first is None:
                    self.t_first = time.monotonic() - self.t0
                    self.got.set()
                if self.head_done:
                    self.tunnel(mv[:n])
                    continue
                self.head += mv[:n]
                i = self.head.find(b"\r\n\r\n")
                if i < 0 and len(self.head) <= 65536:
                    continue
                rest = bytes(self.head[i + 4:]) if i >= 0 else b""
                if i >= 0:
                    del self.head[i + 4:]
                self.head_done = True
                self.head_ev.set()
                if rest:
                    self.tunnel(memoryview(rest))
        except ConnectionResetError:
            self.end = "reset"
        except OSError as e:
            self.end = "error:%s" % e.errno
        self.t_eof = time.monotonic() - self.t0
        self.got.set()
        self.head_ev.set()
        self.eof.set()


class Client:
    """One client connection: its socket, its reader, what it sent, its deadline
    and the key=value results that go to --info."""

    def __init__(self, a):
        fam, host = fam_host(a.family)
        port = a.port
        if a.port_file:
            wait_path(a.port_file, 10)
            port = int(open(a.port_file).read())
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect((host, port))
        self.s.settimeout(a.stall if a.stall < 1e8 else None)
        t0 = time.monotonic()
        self.deadline = t0 + a.timeout
        self.info = {"local": fmt_addr(self.s.getsockname())}
        write_atomic(a.info + ".local", self.info["local"])
        self.r = ClientReader(self.s, t0)
        self.rt = None
        if not a.no_read:
            self.rt = threading.Thread(target=self.r.run, daemon=True)
            self.rt.start()
        self.tx = 0
        self.th = hashlib.sha256()

    def left(self):
        return max(0.0, self.deadline - time.monotonic())


# The client's steps: each STEP or STEP=ARG runs step_STEP(client, ARG); a
# step that returns True ends the list.

def step_send(c, arg):
    """send=BYTES (escapes)."""
    c.s.sendall(unescape(arg))


def step_sendfile(c, arg):
    """sendfile=PATH: the file's bytes."""
    with open(arg, "rb") as f:
        c.s.sendall(f.read())


def step_pause(c, arg):
    """pause=SECS."""
    time.sleep(float(arg))


def step_drip(c, arg):
    """drip=N:SECS[:BYTE]: one byte every SECS, until N or a reply."""
    parts = arg.split(":")
    n, secs = int(parts[0]), float(parts[1])
    byte = unescape(parts[2]) if len(parts) > 2 else b"a"
    for _ in range(n):
        if c.r.got.is_set():
            break
        c.s.sendall(byte)
        c.r.got.wait(secs)


def step_trickle(c, arg):
    """trickle=SECS:BYTES: one byte per write, SECS apart."""
    secs, _, b = arg.partition(":")
    for i, byte in enumerate(unescape(b)):
        if i:
            time.sleep(float(secs))
        c.s.sendall(bytes([byte]))


def step_oob(c, arg):
    """oob=BYTE: one byte of TCP urgent data (MSG_OOB)."""
    c.s.send(unescape(arg), socket.MSG_OOB)


def step_shut(c, arg):
    """shut: a FIN (shutdown of the sending side)."""
    c.s.shutdown(socket.SHUT_WR)


def step_rst(c, arg):
    """rst: vanish: a TCP reset instead of a FIN; nothing more is read."""
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.s.shutdown(socket.SHUT_RD)        # wakes the reader; no packet
    if c.rt is not None:
        c.rt.join(5)
    c.info["end"] = "rst"
    return True


def step_waithead(c, arg):
    """waithead: until the response head came (or the deadline)."""
    c.r.head_ev.wait(c.left())


def step_waiteof(c, arg):
    """waiteof: until the EOF (or the deadline)."""
    c.r.eof.wait(c.left())


def step_mark(c, arg):
    """mark=PATH: write PATH, for a test waiting on this point."""
    write_atomic(arg, "1")


def step_waitfile(c, arg):
    """waitfile=PATH: until PATH exists, 10 s at most."""
    end = min(c.deadline, time.monotonic() + 10)
    while not os.path.exists(arg) and time.monotonic() < end:
        time.sleep(0.01)


def step_stream(c, arg):
    """stream=N: N bytes of the stream."""
    c.tx += send_stream(c.s, int(arg), c.th, moved=c.r)


CLIENT_STEPS = {"send": step_send, "sendfile": step_sendfile, "pause": step_pause,
                "drip": step_drip, "trickle": step_trickle, "oob": step_oob, "shut": step_shut,
                "rst": step_rst, "waithead": step_waithead, "waiteof": step_waiteof,
                "mark": step_mark, "waitfile": step_waitfile, "stream": step_stream}


def client_steps(steps):
    """[(function, ARG)] for the steps given, or the exit if one is unknown."""
    out = []
    for step in steps:
        op, _, arg = step.partition("=")
        if op not in CLIENT_STEPS:
            sys.exit("harness: unknown client step %r" % step)
        out.append((CLIENT_STEPS[op], arg))
    return out


def run_steps(c, steps):
    try:
        for fn, arg in steps:
            if fn(c, arg):
                break
    except socket.timeout:
        c.info["senderr"] = "stalled"
    except OSError as e:
        c.info["senderr"] = str(e.errno)


def wait_end(c, a):
    """Read to EOF unless told not to; stalled when nothing moved for --stall."""
    if a.no_wait or a.no_read or c.info.get("end") == "rst":
        return
    while not c.r.eof.wait(min(0.2, c.left())) and c.left() > 0:
        if time.monotonic() - c.r.moved > a.stall:
            c.info["end"] = "stalled"
            return


def how_it_ended(c, a):
    if c.info.get("end") == "rst":
        return "rst"
    if a.no_read:
        return "noread"
    if c.r.eof.is_set():
        return c.r.end
    return c.info.get("end", "timeout")


def record(c, a):
    """DIR/out and DIR/info, from a snapshot (the reader may still run after a timeout)."""
    r = c.r
    head = bytes(r.head)
    saved = bytes(r.saved)
    with open(a.out, "wb") as f:
        f.write(head + saved)
    c.info.update({
        "headlen": str(len(head)),
        "rx": str(r.count), "rxsha": r.h.hexdigest(),
        "tx": str(c.tx), "txsha": c.th.hexdigest(),
        "t_first": "%.3f" % r.t_first if r.t_first is not None else "-",
        "t_eof": "%.3f" % r.t_eof if r.t_eof is not None else "-",
    })
    write_atomic(a.info, "".join("%s=%s\n" % kv for kv in c.info.items()))


def cmd_client(a):
    life(a.timeout + 30)
    steps = client_steps(a.steps)
    c = Client(a)
    run_steps(c, steps)
    wait_end(c, a)
    c.info["end"] = how_it_ended(c, a)
    record(c, a)
    c.s.close()
    return 0


# ---------------------------------------------------------------- dns stub

def qname(pkt):
    i, labels = 12, []
    while i < len(pkt):
        n = pkt[i]
        if n == 0:
            return ".".join(labels), i + 5
        labels.append(pkt[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return ".".join(labels), len(pkt)


def cmd_dns(a):
    life(a.life)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.addr, 53))
    log = open(os.path.join(a.dir, "queries"), "a", buffering=1)
    stop = stop_on_term()
    s.settimeout(0.05)
    write_atomic(os.path.join(a.dir, "ready"), "1")
    while not stop.is_set():
        try:
            pkt, peer = s.recvfrom(4096)
        except (socket.timeout, InterruptedError):
            continue
        if len(pkt) < 12:
            continue
        name, qend = qname(pkt)
        qtype = int.from_bytes(pkt[qend - 4:qend - 2], "big") if qend <= len(pkt) else 0
        log.write("query %s type=%d\n" % (name, qtype))
        log.flush()
        if a.mode == "silent":
            continue
        flags = 0x8000 | (pkt[2] & 0x01) << 8 | 0x0080 | 3   # QR, RD copied, RA, NXDOMAIN
        resp = pkt[0:2] + flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x00" + pkt[12:qend]
        s.sendto(resp, peer)
    return 0


# ---------------------------------------------------------------- syslog

def cmd_syslog(a):
    """Each message one line of DIR/messages (a trailing newline dropped)."""
    log = open(os.path.join(a.dir, "messages"), "ab", buffering=0)
    return syslog_stub(a.dir, a.path, lambda m: log.write(m.rstrip(b"\n") + b"\n"), a.life)


# ---------------------------------------------------------------- http

def cmd_http(a):
    life(a.life)
    body = bytes(stream(0, a.size))
    ev = Events(os.path.join(a.dir, "events"))

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):
            ev.put("request %s %s peer=%s" % (self.command, self.path,
                                              fmt_addr(self.client_address)))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    fam, host = fam_host(a.family)

    class S(http.server.HTTPServer):
        address_family = fam
    srv = S((host, 0), H)
    signal.signal(signal.SIGTERM, lambda sg, f: os._exit(0))
    write_atomic(os.path.join(a.dir, "port"), str(srv.server_address[1]))
    srv.serve_forever()


# ---------------------------------------------------------------- checkresp

REASONS = {400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed",
           407: "Proxy Authentication Required",
           408: "Request Timeout", 431: "Request Header Fields Too Large",
           500: "Internal Server Error",
           502: "Bad Gateway", 504: "Gateway Timeout",
           505: "HTTP Version Not Supported"}


def refusal_problems(data, code, error):
    """What is wrong with data as connectd's refusal CODE with Proxy-Status ERROR."""
    reason = REASONS[code].encode()
    allow = re.escape(b"Allow: CONNECT\r\n") if code == 405 else b""
    if code == 407:     # the realm: a quoted-string of printable ASCII
        allow = rb'Proxy-Authenticate: Basic realm="(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])+"\r\n'
    pat = (rb"HTTP/1\.1 " + str(code).encode() + rb" " + re.escape(reason) + rb"\r\n"
           rb"Proxy-Status: connectd; error=" + re.escape(error.encode()) +
           rb"; details=\"[\x20\x21\x23-\x5b\x5d-\x7e]*\"\r\n" + allow +
           rb"Content-Type: text/plain\r\n"
           rb"Content-Length: ([0-9]+)\r\n"
           rb"Connection: close\r\n\r\n(.*)")
    m = re.fullmatch(pat, data, re.S)
    problems = []
    if not m:
        problems.append("response is not exactly a %d %s refusal with error=%s" % (
            code, REASONS[code], error))
    else:
        if int(m.group(1)) != len(m.group(2)):
            problems.append("Content-Length %s but body has %d bytes" % (
                m.group(1).decode(), len(m.group(2))))
        if m.group(2) != reason + b"\n":
            problems.append("body %r, expected %r" % (m.group(2), reason + b"\n"))
    return problems


def cmd_checkresp(a):
    data = open(a.file, "rb").read()
    problems = refusal_problems(data, int(a.code), a.error)
    if problems:
        for p in problems:
            print("checkresp: " + p, file=sys.stderr)
        print("checkresp: got %r" % data, file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- main

def main():
    c = Commands("harness.py", __doc__)

    q = c.add("launch", cmd_launch, command=True)
    q.add_argument("--dir", required=True)
    q.add_argument("--family", default="4", choices=("4", "6"))
    q.add_argument("--pipes", action="store_true")
    q.add_argument("--stderr", default="file", choices=("file", "socket", "closed"),
                   help="connectd's stderr: DIR/stderr, the client socket (inetd), or closed")
    q.add_argument("--env", action="append", default=[])
    q.add_argument("--timeout", type=float, default=60)
    q.add_argument("--accept-timeout", type=float, default=20)

    q = c.add("target", cmd_target)
    q.add_argument("--dir", required=True)
    q.add_argument("--family", default="4", choices=("4", "6"))
    q.add_argument("--addr", help="address to listen on instead of the loopback default")
    q.add_argument("--port", type=int, default=0)
    q.add_argument("--mode", default="listen", choices=("listen", "never", "closed"),
                   help="listen: serve; never: listen queue full; closed: bound, not listening")
    q.add_argument("--echo", action="store_true", help="echo what is received")
    q.add_argument("--send", default="", help="bytes to send at once (escapes)")
    q.add_argument("--urgent", default="", help="after --send, a byte sent as TCP urgent data")
    q.add_argument("--then", default="", help="after --urgent, bytes sent as usual")
    q.add_argument("--bytes", type=int, default=0, help="then this much of the stream")
    q.add_argument("--wait-eof", action="store_true",
                   help="shut down the sending side only after the peer's EOF")
    q.add_argument("--reply", default="", help="with --wait-eof: bytes sent after the peer's EOF")
    q.add_argument("--rst-after", type=int, default=None,
                   help="after --send, read this many bytes, then reset the connection (SO_LINGER 0)")
    q.add_argument("--no-read", action="store_true",
                   help="after --send, never read: hold the connection until stopped")
    q.add_argument("--life", type=float, default=180)

    q = c.add("client", cmd_client)
    q.add_argument("--port", type=int)
    q.add_argument("--port-file")
    q.add_argument("--family", default="4", choices=("4", "6"))
    q.add_argument("--out", required=True)
    q.add_argument("--info", required=True)
    q.add_argument("--timeout", type=float, default=20)
    q.add_argument("--no-wait", action="store_true")
    q.add_argument("--no-read", action="store_true",
                   help="never read from the connection (steps still run)")
    q.add_argument("--stall", type=float, default=1e9,
                   help="give up when no byte moved either way for this long")
    q.add_argument("steps", nargs="*", help="STEP or STEP=ARG: " + ", ".join(CLIENT_STEPS))

    q = c.add("dns", cmd_dns)
    q.add_argument("--dir", required=True)
    q.add_argument("--addr", required=True)
    q.add_argument("--mode", default="nxdomain", choices=("nxdomain", "silent"))
    q.add_argument("--life", type=float, default=120)

    q = c.add("syslog", cmd_syslog)
    q.add_argument("--dir", required=True)
    q.add_argument("--path", required=True)
    q.add_argument("--life", type=float, default=120)

    q = c.add("http", cmd_http)
    q.add_argument("--dir", required=True)
    q.add_argument("--family", default="4", choices=("4", "6"))
    q.add_argument("--size", type=int, default=100000)
    q.add_argument("--life", type=float, default=120)

    q = c.add("checkresp", cmd_checkresp)
    q.add_argument("file")
    q.add_argument("code")
    q.add_argument("error")

    q = c.add("streamsha", cmd_streamsha)
    q.add_argument("n", type=int)

    q = c.add("streamcat", cmd_streamcat)
    q.add_argument("n", type=int)

    return c.run()


def cmd_streamsha(a):
    print(stream_sha(a.n))
    return 0


def cmd_streamcat(a):
    stream_write(sys.stdout.buffer, a.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
