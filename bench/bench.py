#!/usr/bin/env python3
"""make bench: connectd against the ceiling of its model, and its peers, on loopback.

connectd runs one process per client connection, started by a super-server.
That model has a ceiling on each machine: the least that a program started
for each connection can cost. bench/relay.c is that program, written for the
bench alone (numeric targets, no checks, no log): it reads the CONNECT, connects,
answers 200 and splices both ways through 1 MiB pipes. It is built as
connectd is, static with musl (bench/relay-static) and with glibc
(bench/relay), and run under the same super-server (tcpserver -HR -l 0) as
connectd and connectd-static, which run as the README's tcpserver example
runs them: started as root with -u uid:gid (nobody's), the sandbox on.

Figures, for each row that takes part in them:
  (a) up: --bulk-mib MiB through one tunnel to the target, MiB/s
  (b) down: the same from the target
  (c) setups: --setups tunnel setups one after another (connect, CONNECT, the
      200, one byte each way, the target's verdict, the EOF): per second,
      p50 and p99; under tcpserver also the CPU time per setup of the
      processes it started (what its children cost it, as reaped)
  (d) --conc tunnels at once, --conc-mib MiB each way in each: seconds
  (e) the peak summed PSS of the proxy's processes during (d), all tunnels
      open before any moves a byte: under tcpserver the processes it started
      (not tcpserver), for a daemon its whole process tree
The rows: a direct connection, the bare relays, connectd and connectd-static;
setups of connectd-static with -u nobody (a lookup by name), to localhost with
no name rule and with 256 -A rules (the last one matches), with -P /bin/true
(the checker's fork and exec alone) and with -P examples/checkpassword (a user
file made here); and Apache (mod_proxy_connect, event MPM), Squid (-N, no
cache) and tinyproxy where installed, each configured here on 127.0.0.1 with
its files in a temporary directory, run in the foreground and stopped at the
end.

The client and the target are bench/load.c, in C: every byte each of them
gets is checked against test/common.py's deterministic stream, in every
figure. The direct row is measured with the same client in the same rounds,
so that the client's own limit shows. A failed check is a failed
measurement, printed in the row, never run again; the bench exits 1 if it
was a row of connectd, a bare relay or the direct connection.

--runs rounds; in each, every figure is measured for every row in turn (the
order rotated each round; the bulk figures twice, the rows in order and then
back, their mean the round's), so that what the machine does meanwhile falls
on all rows alike. Each figure is the median of the rounds, printed with the
spread [min-max]; each ratio is the median of the ratios of the same round,
with their spread. Then each goal, met or not, with its figures. Traffic
goes to 127.0.0.1 only.
"""
import argparse
import base64
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
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test"))
import common  # noqa: E402  (test/common.py: the deterministic stream)


def path(env, default):
    return os.environ.get(env, os.path.join(ROOT, default))


CONNECTD = path("CONNECTD", "connectd")
STATIC = path("CONNECTD_STATIC", "connectd-static")
LOAD = path("BENCH_LOAD", "bench/load")
RELAY = path("BENCH_RELAY", "bench/relay")
RELAY_STATIC = path("BENCH_RELAY_STATIC", "bench/relay-static")
CHECKPASSWORD = os.path.join(ROOT, "examples", "checkpassword")
BENCH_USER, BENCH_PASSWORD = "bench", "bench-password"

# ---- the peers: configured here, run in the foreground ---------------------------------

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
        conffile = os.path.join(d, "conf")
        with open(conffile, "w") as f:
            f.write(conf % dict(d=d, port=port, tport=tport, user=user, group=grp.getgrgid(pw.pw_gid).gr_name))
        return (cmd % conffile).split()
    return argv


def tcpserver(cmd):
    return lambda port: ["tcpserver", "-c", "1000", "-b", "1000", "-HR", "-l", "0",
                         "127.0.0.1", str(port)] + cmd


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the client: bench/load ------------------------------------------------------------------

class Load:
    """bench/load's client roles, with the stream file and the target's port."""

    def __init__(self, stream, tport):
        self.stream, self.tport = stream, tport

    def args(self, role, row, *rest):
        a = [LOAD, role, self.stream]
        if not row.proxied:
            a.append("-d")
        if row.host:
            a += ["-h", row.host]
        if row.auth and role == "setups":
            a += ["-a", row.auth]
        return a + [str(row.port), str(self.tport)] + [str(x) for x in rest]

    def run(self, role, row, *rest, timeout=300):
        r = subprocess.run(self.args(role, row, *rest), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError((r.stdout + r.stderr).strip().split("\n")[0] or "exit %d" % r.returncode)
        return dict(kv.split("=") for kv in r.stdout.split())


def pss(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except OSError:
            pass
    return total


# ---- the rows --------------------------------------------------------------------------------

class Row:
    """One row of the table: how it is started, the figures it takes part in,
    its reference bare relay (ratios "x bare"), and its process once started,
    in a session of its own with its output in a log file."""

    def __init__(self, name, figures, argv=None, proxied=True, tree=True, bare=None, host=None,
                 auth=None, env=None, setups=1.0, why=None):
        self.name, self.figures, self.argv, self.proxied, self.tree = name, figures, argv, proxied, tree
        self.bare, self.host, self.auth, self.env, self.setups = bare, host, auth, env, setups
        self.why, self.proc, self.port = why, None, None

    def start(self, tport, log, load):
        if self.argv is None:
            self.port = tport
            return
        try:
            for _ in range(3):           # a port taken meanwhile: another
                self.port = free_port()
                with open(log, "w") as out:
                    self.proc = subprocess.Popen(self.argv(self.port), stdin=subprocess.DEVNULL, stdout=out,
                                                 stderr=subprocess.STDOUT, start_new_session=True,
                                                 env=dict(os.environ, **(self.env or {})))
                if self.listening():
                    break
                self.stop()
            else:
                raise RuntimeError("did not start")
            load.run("setups", self, 1, timeout=60)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            self.stop()
            raise RuntimeError(str(e))

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
        """(e)'s processes: a daemon's whole tree, or what runs under tcpserver."""
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


def bulk(load, row, n, up):
    r = load.run("bulk", row, n if up else 0, 0 if up else n)
    return {"rate": float(r["mibps"])}


def reaped_cpu(pid):
    """The CPU seconds of the children pid has reaped (cutime + cstime)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def setups(load, row, n):
    n = max(1, int(n * row.setups))
    cpu = reaped_cpu(row.proc.pid) if row.proc and not row.tree else None
    r = load.run("setups", row, n)
    res = {"rate": float(r["rate"]), "p50": float(r["p50"]), "p99": float(r["p99"])}
    if cpu is not None:                  # under tcpserver: what its children cost, once reaped
        time.sleep(0.2)
        res["cpu"] = (reaped_cpu(row.proc.pid) - cpu) * 1e6 / n
    return res


def concurrent(load, row, conc, n):
    """(d) and (e): the client opens every tunnel, says "open" and waits; the
    PSS is sampled then and every 50 ms until it ends."""
    peak = [0, 0]
    p = subprocess.Popen(load.args("conc", row, conc, n), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)

    def sample():
        pids = row.pids()
        peak[:] = max(peak, [pss(pids), len(pids)])
    try:
        line = p.stdout.readline()
        if line.strip() == "open":
            sample()
            p.stdin.write("go\n")
            p.stdin.flush()
            while p.poll() is None:
                sample()
                time.sleep(0.05)
        out = line + p.stdout.read()
        p.wait(300)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode != 0 or not out.split()[-1:] or not out.split()[-1].startswith("secs="):
        raise RuntimeError(out.strip().split("\n")[0] or "exit %d" % p.returncode)
    res = {"secs": float(out.split()[-1].split("=")[1])}
    if peak[1]:
        res.update(pss=peak[0], procs=peak[1])
    return res


FIGURES = (("a", "(a) up", lambda a: (bulk, (a.bulk_mib << 20, True))),
           ("b", "(b) down", lambda a: (bulk, (a.bulk_mib << 20, False))),
           ("c", "(c) setups", lambda a: (setups, (a.setups,))),
           ("d", "(d) concurrent", lambda a: (concurrent, (a.conc, a.conc_mib << 20))))


def rows(tport, tmp, uidgid):
    """Every row, in the table's order; a row whose program is missing says why."""
    def exe(p, why):
        return None if os.access(p, os.X_OK) else why
    cd = ["-a", "127.0.0.1"] + (["-u", uidgid] if uidgid else [])
    port = [str(tport)]
    names = [x for i in range(1, 256) for x in ("-A", "x%d.example" % i)] + ["-A", "localhost"]
    users = os.path.join(tmp, "users")
    auth = "Basic " + base64.b64encode(("%s:%s" % (BENCH_USER, BENCH_PASSWORD)).encode()).decode()
    peers = [Row(name, "abcd", argv=peer(os.path.join(tmp, exe_), tport, user, conf, cmd), bare="bare relay (static)",
                 why=None if shutil.which(exe_) else "not installed")
             for name, exe_, user, conf, cmd in PEERS]
    return [
        Row("direct", "abcd", proxied=False, why=exe(LOAD, "not built")),
        Row("bare relay (static)", "abcd", argv=tcpserver([RELAY_STATIC]), tree=False, bare="bare relay (static)",
            why=exe(RELAY_STATIC, "not built")),
        Row("bare relay (glibc)", "abcd", argv=tcpserver([RELAY]), tree=False, bare="bare relay (glibc)",
            why=exe(RELAY, "not built")),
        Row("connectd-static", "abcd", argv=tcpserver([STATIC] + cd + port), tree=False, bare="bare relay (static)",
            why=exe(STATIC, "not built")),
        Row("connectd", "abcd", argv=tcpserver([CONNECTD] + cd + port), tree=False, bare="bare relay (glibc)",
            why=exe(CONNECTD, "not built")),
        Row("connectd-static -u nobody", "c", argv=tcpserver([STATIC, "-a", "127.0.0.1", "-u", "nobody"] + port),
            tree=False, bare="bare relay (static)", why=exe(STATIC, "not built") or (None if uidgid else "not root")),
        Row("connectd-static, localhost", "c", argv=tcpserver([STATIC] + cd + port), tree=False, host="localhost",
            bare="bare relay (static)", why=exe(STATIC, "not built")),
        Row("connectd-static, localhost, 256 -A", "c", argv=tcpserver([STATIC] + cd + names + port), tree=False,
            host="localhost", bare="bare relay (static)", why=exe(STATIC, "not built")),
        Row("connectd-static -P /bin/true", "c", argv=tcpserver([STATIC] + cd + ["-P", "/bin/true"] + port),
            tree=False, auth=auth, bare="bare relay (static)", why=exe(STATIC, "not built")),
        Row("connectd-static -P checkpassword", "c", argv=tcpserver([STATIC] + cd + ["-P", CHECKPASSWORD] + port),
            tree=False, auth=auth, env={"CONNECTD_USERS": users}, setups=0.2, bare="bare relay (static)",
            why=exe(STATIC, "not built") or (None if shutil.which("perl") else "perl is not installed")),
    ] + peers


def user_file(path):
    """The checkpassword example's file, one user, its SHA-512 crypt made by perl."""
    salt = base64.b64encode(os.urandom(12), b"./").decode()
    h = subprocess.run(["perl", "-e", "print crypt($ARGV[0], $ARGV[1])", BENCH_PASSWORD, "$6$%s$" % salt],
                       capture_output=True, text=True, check=True).stdout
    with open(path, "w") as f:
        f.write("%s:%s\n" % (BENCH_USER, h))
    os.chmod(path, 0o644)                # the -u user reads it


# ---- the table and the goals -------------------------------------------------------------------

def spread(v, fmt):
    if not v:
        return "-"
    m = statistics.median(v)
    return (fmt % m) if len(v) == 1 else "%s [%s-%s]" % (fmt % m, fmt % min(v), fmt % max(v))


def markdown(header, body):
    table = [header] + body
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for k, r in enumerate(table):
        print("| " + " | ".join(c.ljust(w) if i == 0 or (i == len(r) - 1 and header[-1] == "note") else c.rjust(w)
                                for i, (c, w) in enumerate(zip(r, widths))) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


COLUMNS = (("(a) up MiB/s", "a", "rate", "%.0f"), ("(b) down MiB/s", "b", "rate", "%.0f"),
           ("(c) setups/s", "c", "rate", "%.0f"), ("p50 ms", "c", "p50", "%.2f"), ("p99 ms", "c", "p99", "%.2f"),
           ("CPU us", "c", "cpu", "%.0f"),
           ("(d) secs", "d", "secs", "%.2f"), ("(e) PSS KiB", "d", "pss", "%.0f"), ("procs", "d", "procs", "%.0f"))


def ratios(res, num, den, fig, key):
    """The ratios num/den of each round in which both were measured."""
    a, b = res.get((num, fig, key), {}), res.get((den, fig, key), {})
    return [a[r] / b[r] for r in sorted(set(a) & set(b)) if b[r]]


def tables(all_rows, res, why):
    body = []
    for row in all_rows:
        body.append([row.name] + [spread(list(res.get((row.name, f, k), {}).values()), fmt)
                                  for _, f, k, fmt in COLUMNS] + [why.get(row.name, "")])
    markdown(["row"] + [c[0] for c in COLUMNS] + ["note"], body)
    print()
    print("Ratios, each the median of the same round's [spread]: x bare, to the bare relay built like the row "
          "(the static one for the peers); x direct, to the direct connection.")
    body = []
    for row in all_rows:
        cells = []
        for fig in "abc":
            for den in (row.bare, "direct"):
                v = ratios(res, row.name, den, fig, "rate") if den and den != row.name else []
                cells.append(spread(v, "%.2f"))
        if any(c != "-" for c in cells):
            body.append([row.name] + cells)
    markdown(["row", "up x bare", "up x direct", "down x bare", "down x direct", "setups x bare",
              "setups x direct"], body)


def goals(res, why):
    def line(text, num, den, fig, key, limit, at_most=False):
        v = ratios(res, num, den, fig, key)
        if not v:
            gone = [n for n in (num, den) if (n, fig, key) not in res]
            print("%s: not measured (%s)" % (text, "; ".join("%s %s" % (n, why.get(n, "gave no figure"))
                                                             for n in gone) or "no round with both"))
            return
        m = statistics.median(v)
        a = statistics.median(res[num, fig, key].values())
        b = statistics.median(res[den, fig, key].values())
        ok = m <= limit if at_most else m >= limit
        print("%s: %.3f [%.3f-%.3f] (%.4g vs %.4g), %s" % (text, m, min(v), max(v), a, b, "met" if ok else "not met"))

    print("goals:")
    line("(1) setups: connectd-static >= 0.95 x the bare relay (static)", "connectd-static", "bare relay (static)",
         "c", "rate", 0.95)
    line("(1) setups: connectd >= 0.95 x the bare relay (glibc)", "connectd", "bare relay (glibc)", "c", "rate", 0.95)
    for n, bare in (("connectd-static", "bare relay (static)"), ("connectd", "bare relay (glibc)")):
        v = ratios(res, bare, n, "c", "cpu")
        if v:                            # what (1) comes from, steadier than the rate: no goal of its own
            print("(1) CPU per setup, the %s's over %s's (1: the same cost): %.3f [%.3f-%.3f] (%.0f vs %.0f us)" % (
                bare, n, statistics.median(v), min(v), max(v), statistics.median(res[bare, "c", "cpu"].values()),
                statistics.median(res[n, "c", "cpu"].values())))
    for n, bare in (("connectd-static", "bare relay (static)"), ("connectd", "bare relay (glibc)")):
        for fig, word in (("a", "up"), ("b", "down")):
            line("(2) bulk %s: %s >= 0.95 x the %s" % (word, n, bare), n, bare, fig, "rate", 0.95)
    line("(3) memory: connectd-static PSS <= 0.6 x tinyproxy's", "connectd-static", "tinyproxy", "d", "pss", 0.6, True)
    peers = []
    for p in ("Apache", "Squid"):
        v = ratios(res, p, "bare relay (static)", "c", "rate")
        peers.append("%s %.2f" % (p, statistics.median(v)) if v else "%s not measured (%s)" % (
            p, why.get(p, why.get("bare relay (static)", "gave no figure"))))
    print("(4) peers: setups x the bare relay (static): %s" % "; ".join(peers))
    v = ratios(res, "connectd-static, localhost, 256 -A", "connectd-static, localhost", "c", "rate")
    if v:
        print("(i) names: 256 -A rules x none, setups: %.3f [%.3f-%.3f], %s" % (
            statistics.median(v), min(v), max(v),
            "too few rounds to tell the noise" if len(v) < 3 else
            "within the run's noise (the rounds' ratios reach 1)" if min(v) <= 1 <= max(v)
            else "outside the run's noise"))
    else:
        print("(i) names: 256 -A rules x none, setups: not measured (%s)" % why.get(
            "connectd-static, localhost, 256 -A", why.get("connectd-static, localhost", "gave no figure")))
    out = []
    for n in ("connectd-static -P /bin/true", "connectd-static -P checkpassword"):
        v = ratios(res, n, "connectd-static", "c", "rate")
        out.append("%s %s" % (n.split(" ", 1)[1], "%.3f [%.3f-%.3f] (%.0f/s)" % (
            statistics.median(v), min(v), max(v), statistics.median(res[n, "c", "rate"].values()))
            if v else "not measured (%s)" % why.get(n, why.get("connectd-static", "gave no figure"))))
    print("(ii) -P, setups x connectd-static without: %s" % "; ".join(out))


def build_note():
    out = []
    for p in (STATIC, RELAY_STATIC):
        if os.access(p, os.X_OK):
            out.append("%s %d bytes" % (os.path.basename(p), os.path.getsize(p)))
    return ", ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--bulk-mib", type=int, default=1024, help="(a), (b): MiB through one tunnel (default 1024)")
    ap.add_argument("--setups", type=int, default=1000, help="(c): setups per round and row (default 1000)")
    ap.add_argument("--conc", type=int, default=100, help="(d): tunnels at once (default 100)")
    ap.add_argument("--conc-mib", type=int, default=8, help="(d): MiB each way in each (default 8)")
    a = ap.parse_args()
    if not shutil.which("tcpserver"):
        sys.exit("bench: needs tcpserver (apt-get install ucspi-tcp)")
    if not os.access(LOAD, os.X_OK):
        sys.exit("bench: %s is not built (make bench)" % LOAD)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))   # stop the proxies
    tmp = "/tmp/connectd-bench.%d" % os.getpid()
    os.makedirs(tmp)
    os.chmod(tmp, 0o755)                 # the -u user reads the checker's file in it
    stream, portfile = os.path.join(tmp, "stream"), os.path.join(tmp, "port")
    with open(stream, "wb") as f:
        common.stream_write(f, common.STREAM_PERIOD)
    uidgid = None
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        uidgid = "%d:%d" % (pw.pw_uid, pw.pw_gid)
    load_before = os.getloadavg()
    target = subprocess.Popen([LOAD, "target", stream, portfile], stderr=open(os.path.join(tmp, "target.log"), "w"))
    deadline = time.monotonic() + 10
    while not os.path.exists(portfile) and time.monotonic() < deadline:
        time.sleep(0.01)
    tport = int(open(portfile).read())
    load = Load(stream, tport)
    all_rows = rows(tport, tmp, uidgid)
    why, res, live = {}, {}, []
    start = time.monotonic()
    try:
        if shutil.which("perl"):
            user_file(os.path.join(tmp, "users"))
        for row in all_rows:
            if row.why:
                why[row.name] = row.why
                continue
            try:
                row.start(tport, os.path.join(tmp, row.name.replace(" ", "-").replace("/", "") + ".log"), load)
                live.append(row)
            except RuntimeError as e:
                why[row.name] = "skipped: %s" % e
        for rnd in range(a.runs):
            order = live[rnd % len(live):] + live[:rnd % len(live)] if live else []
            for fig, _, how in FIGURES:
                fn, args = how(a)
                # The bulk figures, the noisiest, twice a round: the rows in
                # order, then back; the round's figure is the mean of the two.
                passes = [order, order[::-1]] if fig in "ab" else [order]
                got = {}
                for rows_ in passes:
                    for row in rows_:
                        if fig not in row.figures or row.name in why:
                            continue
                        try:
                            for k, v in fn(load, row, *args).items():
                                got.setdefault((row.name, fig, k), []).append(v)
                        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
                            why[row.name] = "failed in (%s): %s" % (fig, e)
                for key, v in got.items():
                    if key[0] not in why:
                        res.setdefault(key, {})[rnd] = statistics.mean(v)
    finally:
        for row in live:
            row.stop()
        target.kill()
        target.wait()
    secs = time.monotonic() - start
    load_after = os.getloadavg()

    print("connectd bench: %s, %d cores, kernel %s; %d rounds in %.0f s; (a),(b) %d MiB, (c) %d setups "
          "(-P checkpassword a fifth), (d) %d tunnels x %d MiB both ways" % (
              os.uname().machine, os.cpu_count(), os.uname().release, a.runs, secs, a.bulk_mib, a.setups,
              a.conc, a.conc_mib))
    who = "connectd run as root with -u %s (nobody)" % uidgid if uidgid else "not root: -u is ignored"
    print("load average (1, 5, 15 min) before: %.2f %.2f %.2f, after: %.2f %.2f %.2f; %s" % (
        load_before + load_after + (who,)))
    print("builds: %s" % (build_note() or "-"))
    print()
    tables(all_rows, res, why)
    print()
    print("(e) sums: under tcpserver the processes it started, not tcpserver; Apache: the parent and all its "
          "children; Squid (-N) and tinyproxy: their process tree; procs: how many at the peak")
    versions = [subprocess.run([exe_, "-v"], capture_output=True, text=True).stdout.split("\n")[0]
                for _, exe_, _, _, _ in PEERS if shutil.which(exe_)]
    print("peers: %s" % ("; ".join(versions) or "none installed"))
    goals(res, why)
    broken = [n for n, w in why.items() if w.startswith(("skipped", "failed"))]
    if broken:
        print("bench: logs kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    mine = {"direct", "bare relay (static)", "bare relay (glibc)"} | {r.name for r in all_rows
                                                                      if r.name.startswith("connectd")}
    sys.exit(1 if mine & set(broken) else 0)


if __name__ == "__main__":
    main()
