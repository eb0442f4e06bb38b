#!/usr/bin/env python3
"""Helpers for the super-server tests of connectd (python3 standard library only).

  freeport          a TCP port on 127.0.0.1 that was free a moment ago (the
                    kernel's choice, bound and released), for super-servers
                    that cannot be given port 0; the caller retries on a clash.
  listening PID     the TCP ports that process PID listens on, one a line, read
                    from /proc (no connection is made, so no server is started).
  syslog --dir D --path P [--life SECS]
                    a syslog stub: an AF_UNIX SOCK_DGRAM socket at P that keeps
                    every datagram whole in D/dgram.N (raw bytes) and as one
                    line in D/messages; D/ready when it listens; it ends on
                    SIGTERM or after SECS (180).
  tree PID...       every process below these, one pid a line, deepest last
                    (read from /proc; for teardown, which kills them by pid).
  stamp FILE        checks that the RFC 3164 time stamp at the start of the
                    syslog datagram in FILE (after "<PRI>") is now, give or take
                    a minute; prints what it read.

Traffic goes to 127.0.0.1 only.
"""
import os
import socket
import sys
import time

from common import Commands, syslog_stub


def cmd_freeport(a):
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


def cmd_listening(a):
    inodes = socket_inodes(a.pid)
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


def cmd_tree(a):
    parent = {}
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % n).read()
        except OSError:
            continue
        parent[n] = stat[stat.rindex(")") + 2:].split()[1]
    todo = list(a.pids)
    while todo:
        p = todo.pop(0)
        for k, v in parent.items():
            if v == p:
                print(k)
                todo.append(k)
    return 0


def cmd_syslog(a):
    """Each datagram whole in DIR/dgram.N, and one line of DIR/messages (its
    newlines written as \\n)."""
    lines = open(os.path.join(a.dir, "messages"), "ab", buffering=0)
    n = [0]

    def keep(m):
        n[0] += 1
        tmp = os.path.join(a.dir, ".dgram")
        with open(tmp, "wb") as f:
            f.write(m)
        os.replace(tmp, os.path.join(a.dir, "dgram.%d" % n[0]))
        lines.write(m.replace(b"\n", b"\\n") + b"\n")
    return syslog_stub(a.dir, a.path, keep, a.life)


def cmd_stamp(a):
    data = open(a.file, "rb").read()
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
    c = Commands("super.py", __doc__)
    c.add("freeport", cmd_freeport)
    c.add("listening", cmd_listening).add_argument("pid")
    q = c.add("syslog", cmd_syslog)
    q.add_argument("--dir", required=True)
    q.add_argument("--path", required=True)
    q.add_argument("--life", type=float, default=180)
    c.add("tree", cmd_tree).add_argument("pids", nargs="*", metavar="PID")
    c.add("stamp", cmd_stamp).add_argument("file")
    return c.run()


if __name__ == "__main__":
    sys.exit(main())
