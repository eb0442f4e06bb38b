#!/usr/bin/env python3
"""Helpers for the super-server tests of connectd (python3 standard library only).

  freeport          a TCP port on 127.0.0.1 that was free a moment ago (the
                    kernel's choice, bound and released), for super-servers
                    that cannot be given port 0; the caller retries on a clash.
  listening PID     the TCP ports that process PID listens on, one a line, read
                    from /proc (no connection is made, so no server is started).
  syslog --dir D --path P
                    a syslog stub: an AF_UNIX SOCK_DGRAM socket at P that keeps
                    every datagram whole in D/dgram.N (raw bytes) and as one
                    line in D/messages; D/ready when it listens.
  tree PID...       every process below these, one pid a line, deepest last
                    (read from /proc; for teardown, which kills them by pid).
  stamp FILE        checks that the RFC 3164 time stamp at the start of the
                    syslog datagram in FILE (after "<PRI>") is now, give or take
                    a minute; prints what it read.

Traffic goes to 127.0.0.1 only.
"""
import os
import signal
import socket
import sys
import threading
import time


def life(secs):
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(int(secs))


def cmd_freeport(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()
    return 0


def socket_inodes(pid):
    inodes = set()
    fddir = "/proc/%s/fd" % pid
    try:
        names = os.listdir(fddir)
    except OSError:
        return None
    for n in names:
        try:
            link = os.readlink(os.path.join(fddir, n))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def cmd_listening(args):
    inodes = socket_inodes(args[0])
    if inodes is None:
        return 1                        # no such process
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and f[9] in inodes:   # 0A: LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    for p in sorted(ports):
        print(p)
    return 0


def cmd_tree(args):
    parent = {}
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % n).read()
        except OSError:
            continue
        parent[n] = stat[stat.rindex(")") + 2:].split()[1]
    todo = list(args)
    while todo:
        p = todo.pop(0)
        for k, v in parent.items():
            if v == p:
                print(k)
                todo.append(k)
    return 0


def cmd_syslog(args):
    d = args[args.index("--dir") + 1]
    path = args[args.index("--path") + 1]
    life(180)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    lines = open(os.path.join(d, "messages"), "ab", buffering=0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda sg, f: stop.set())
    s.settimeout(0.05)
    with open(os.path.join(d, "ready"), "w") as f:
        f.write("1\n")
    n = 0
    while not stop.is_set():
        try:
            m = s.recv(65536)
        except (socket.timeout, InterruptedError):
            continue
        n += 1
        tmp = os.path.join(d, ".dgram")
        with open(tmp, "wb") as f:
            f.write(m)
        os.replace(tmp, os.path.join(d, "dgram.%d" % n))
        lines.write(m.replace(b"\n", b"\\n") + b"\n")
    return 0


def cmd_stamp(args):
    data = open(args[0], "rb").read()
    text = data[data.index(b">") + 1:][:15].decode("ascii")
    now = time.time()
    year = time.localtime(now).tm_year
    best = None
    for y in (year - 1, year, year + 1):
        t = time.mktime(time.strptime("%d %s" % (y, text), "%Y %b %d %H:%M:%S"))
        if best is None or abs(t - now) < abs(best - now):
            best = t
    print("time stamp %r is %.0f s from now" % (text, best - now))
    return 0 if abs(best - now) <= 60 else 1


def main():
    cmds = {"freeport": cmd_freeport, "listening": cmd_listening,
            "syslog": cmd_syslog, "tree": cmd_tree, "stamp": cmd_stamp}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit("usage: super.py freeport|listening PID|tree PID...|syslog --dir D --path P|stamp FILE")
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
