#!/usr/bin/env python3
"""What connectd's test tools (test/harness.py, test/super.py, test/tls.py,
test/hostile.py) and the bench (bench/bench.py) share; python3 standard
library only.

  life(secs)          bounds a whole process: SIGALRM's default action ends it
  stop_on_term()      an Event that SIGTERM sets, for servers that end cleanly
  unescape(s)         Python bytes escapes in an argument (\\r \\n \\x00 \\\\) to bytes
  write_atomic(p, t)  a file that appears whole or not at all
  the stream          stream(offset, n), send_stream, stream_mismatch,
                      stream_sha, stream_write: one deterministic byte stream,
                      byte i being STREAM_BASE[i % STREAM_PERIOD]
  syslog_stub         plays syslogd: a datagram socket that keeps what comes
  Commands            a tool's subcommands and their options (argparse)

Run as a program: `common.py check-stream` checks the stream against its
definition, for windows that start anywhere in a period, run across its end,
and are longer than a period; prints one line and exits 1 on a wrong byte.
"""
import argparse
import codecs
import hashlib
import itertools
import os
import random
import signal
import socket
import sys
import threading
import time

STREAM_PERIOD = 1048573          # a prime: the stream repeats with this period
STREAM_SEED = 20240601
STREAM_WINDOW = 1 << 22          # stream() returns a view, no copy, up to this length
_block = None


def life(secs):
    """Bound the whole process: SIGALRM's default action ends it."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(int(secs))


def stop_on_term():
    """An Event that SIGTERM sets (the server then ends by itself)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda sg, f: stop.set())
    return stop


def unescape(s):
    """Python bytes escapes (\\r \\n \\x00 \\\\) in an argument to bytes."""
    return codecs.escape_decode(s.encode("latin-1"))[0]


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------- the stream

def stream_base():
    """One period of the stream."""
    return random.Random(STREAM_SEED).randbytes(STREAM_PERIOD)


def _stream_block():
    """The period repeated over STREAM_PERIOD + STREAM_WINDOW bytes, so that
    every window of up to STREAM_WINDOW bytes is one slice of it."""
    global _block
    if _block is None:
        base = stream_base()
        size = STREAM_PERIOD + STREAM_WINDOW
        _block = memoryview((base * (size // STREAM_PERIOD + 1))[:size])
    return _block


def stream(offset, n):
    """Bytes offset to offset + n of the stream (a bytes-like object), for any
    offset >= 0 and n >= 0: a view up to STREAM_WINDOW bytes, else a copy."""
    if n <= STREAM_WINDOW:
        o = offset % STREAM_PERIOD
        return _stream_block()[o:o + n]
    return b"".join(stream(offset + k, min(STREAM_WINDOW, n - k))
                    for k in range(0, n, STREAM_WINDOW))


def send_stream(sock, n, h=None, chunk=262144, moved=None, offset=0):
    """Send n bytes of the stream from offset, chunk at most per send; return
    bytes sent. h: a hash that takes what was sent; moved: an object whose
    .moved takes the time of each send."""
    sent = 0
    while sent < n:
        m = stream(offset + sent, min(chunk, n - sent))
        k = sock.send(m)
        if h is not None:
            h.update(m[:k])
        if moved is not None:
            moved.moved = time.monotonic()
        sent += k
    return sent


def stream_mismatch(data, offset):
    """None when data is the stream from offset, else the index in data of
    the first byte that is not."""
    if bytes(data) == bytes(stream(offset, len(data))):
        return None
    for i in range(0, len(data), 4096):
        piece = bytes(data[i:i + 4096])
        want = bytes(stream(offset + i, len(piece)))
        if piece != want:
            return i + next(j for j in range(len(piece)) if piece[j] != want[j])
    return None


def stream_sha(n):
    """The sha256 (hex) of the stream's first n bytes."""
    h = hashlib.sha256()
    for k in range(0, n, STREAM_WINDOW):
        h.update(stream(k, min(STREAM_WINDOW, n - k)))
    return h.hexdigest()


def stream_write(out, n):
    """Write the stream's first n bytes to the binary file out."""
    for k in range(0, n, STREAM_WINDOW):
        out.write(stream(k, min(STREAM_WINDOW, n - k)))
    out.flush()


# ---------------------------------------------------------------- syslog stub

def syslog_stub(d, path, keep, secs=120):
    """Plays syslogd: an AF_UNIX datagram socket at path (mode 0666) that
    gives each datagram to keep(); d/ready once it is bound; ends on SIGTERM
    or after secs."""
    life(secs)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    stop = stop_on_term()
    s.settimeout(0.05)
    write_atomic(os.path.join(d, "ready"), "1\n")
    while not stop.is_set():
        try:
            m = s.recv(65536)
        except (socket.timeout, InterruptedError):
            continue
        keep(m)
    return 0


# ---------------------------------------------------------------- arguments

class Commands:
    """A tool's subcommands: add() gives each a parser for its options and
    the function that runs it; run() parses the command line and calls it."""

    def __init__(self, prog, doc):
        self.parser = argparse.ArgumentParser(
            prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        self.sub = self.parser.add_subparsers(dest="sub", required=True, metavar="COMMAND")

    def add(self, name, fn, command=False):
        """A subcommand run by fn(args); with command, it takes a command line
        to run after its options (and an optional --): args.command."""
        q = self.sub.add_parser(name)
        q.set_defaults(run=fn, takes_command=command)
        if command:
            q.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
        return q

    def run(self, argv=None):
        a = self.parser.parse_args(argv)
        if a.takes_command:
            if a.command[:1] == ["--"]:
                a.command = a.command[1:]
            if not a.command:
                self.parser.error("%s: no command" % a.sub)
        return a.run(a)


# ---------------------------------------------------------------- self-check

def check_stream(a):
    """Every window below against the stream's definition, byte by byte."""
    base, p = stream_base(), STREAM_PERIOD

    def truth(offset, n):
        o = offset % p
        return bytes(itertools.islice(itertools.cycle(base), o, o + n))

    starts = [0, 1, 12345, p - 17, p - 16, p - 1, p, p + 1, 2 * p - 1, 7 * p - 5]
    lengths = [0, 1, 17, 65536, 1 << 20, p - 1, p, p + 1, STREAM_WINDOW, STREAM_WINDOW + 17]
    bad = [(o, n) for o in starts for n in lengths if bytes(stream(o, n)) != truth(o, n)]

    class ShortSends:
        """A socket that takes a varying part of each send."""
        def __init__(self):
            self.got, self.sizes = bytearray(), itertools.cycle([p - 1, 1, 16, 1 << 20, 4095])

        def send(self, m):
            k = min(len(m), next(self.sizes))
            self.got += m[:k]
            return k
    n = 3 * p + 5
    s = ShortSends()
    sent = send_stream(s, n, chunk=1 << 20)
    if sent != n or bytes(s.got) != truth(0, n):
        bad.append(("send_stream", n))
    if stream_sha(n) != hashlib.sha256(truth(0, n)).hexdigest():
        bad.append(("stream_sha", n))
    flipped = bytearray(truth(p - 3, 100))
    flipped[42] ^= 1
    if stream_mismatch(flipped, p - 3) != 42 or stream_mismatch(truth(p - 3, 100), p - 3) is not None:
        bad.append(("stream_mismatch", 100))
    print("check-stream: %d windows of %d starts and %d lengths, send_stream, stream_sha, "
          "stream_mismatch: %s" % (len(starts) * len(lengths), len(starts), len(lengths),
                                   "wrong: %s" % bad if bad else "all right"))
    return 1 if bad else 0


def main():
    c = Commands("common.py", __doc__)
    c.add("check-stream", check_stream)
    return c.run()


if __name__ == "__main__":
    sys.exit(main())
