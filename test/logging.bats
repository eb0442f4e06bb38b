#!/usr/bin/env bats
# Where the log lines go (-l auto, stderr, syslog), the exact syslog datagram,
# and the client's name from the environment: what log.bats does not cover.
# connectd runs behind the python launcher, in a private mount namespace whose
# /dev/log is the socket of a syslog stub that keeps each datagram whole (see
# super.bash); the machine's own /dev/log is never touched.

load lib
load super

# in_ns: connectd (alone) in the private namespace, with the syslog stub.
in_ns() {
	ns_wrap
	CONNECTD_WRAP=("${NS_WRAP[@]}")
}

# tunnel_ok [launcher options] -- [connectd options]: a short tunnel whose
# target sends "ok\n"; the client must get exactly the 200 and "ok\n".
# Sets: DPID (connectd's; unshare and sh exec it), DECISION CLOSE (its log
# lines, as tunnel_res).
tunnel_ok() {
	start_target --send 'ok\n'
	start_proxy "$@" -a 127.0.0.1 -t 5 -i 10 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	connectd_pid
	tunnel_res 0 3 eof
}

@test "-l syslog: each line is one datagram <30>Mmm dd hh:mm:ss connectd[PID]: LINE, no newline, stamped now" {
	in_ns
	tunnel_ok -- -l syslog
	[ ! -s "$PDIR/stderr" ]
	syslog_sync
	syslog_lines
	assert_lines "$T/syslog.lines" "<30>.{15} connectd\\[$DPID\\]: $DECISION" "<30>.{15} connectd\\[$DPID\\]: $CLOSE"
	assert_dgram 1 "$DPID" "$DECISION"
	assert_dgram 2 "$DPID" "$CLOSE"
}

@test "-l auto with stderr the client socket (2>&1): the exact datagrams, nothing to the client" {
	in_ns
	tunnel_ok --stderr socket --
	syslog_sync
	assert_dgram 1 "$DPID" "$DECISION"
	assert_dgram 2 "$DPID" "$CLOSE"
	[ ! -e "$T/syslog/dgram.4" ]	# 1, 2 and the marker of syslog_sync
}

@test "-l auto with pipes on 0 and 1 and the client socket on 2 (a wrapper under inetd): syslog, nothing to the client" {
	in_ns
	tunnel_ok --pipes --stderr socket --
	DECISION="client=- ${DECISION#client=* }"	# fd 0 is a pipe: no peer to name
	CLOSE="client=- ${CLOSE#client=* }"
	syslog_sync
	assert_dgram 1 "$DPID" "$DECISION"
	assert_dgram 2 "$DPID" "$CLOSE"
}

@test "-l auto with stderr a file: the lines go to stderr and nothing to syslog" {
	in_ns
	tunnel_ok --
	assert_log "$DECISION" "$CLOSE"
	syslog_sync
	syslog_lines
	assert_lines "$T/syslog.lines"
}

@test "-l stderr: the lines go to stderr and nothing to syslog" {
	in_ns
	tunnel_ok -- -l stderr
	assert_log "$DECISION" "$CLOSE"
	syslog_sync
	syslog_lines
	assert_lines "$T/syslog.lines"
}

@test "-l auto with stderr closed: the exact datagrams" {
	in_ns
	tunnel_ok --stderr closed --
	syslog_sync
	assert_dgram 1 "$DPID" "$DECISION"
	assert_dgram 2 "$DPID" "$CLOSE"
}

@test "the last -l wins: -l syslog -l stderr logs to stderr only" {
	in_ns
	tunnel_ok -- -l syslog -l stderr
	assert_log "$DECISION" "$CLOSE"
	syslog_sync
	syslog_lines
	assert_lines "$T/syslog.lines"
}

# no_devlog: connectd in a namespace with no /dev/log at all.
no_devlog() {
	# shellcheck disable=SC2016
	CONNECTD_WRAP=(unshare --mount --propagation private -- sh -c '
		set -e
		mount -t tmpfs -o mode=755 none /dev
		: >/dev/null
		mount --bind "$1" /dev/null
		shift
		exec "$@"' sh "$T/devnull")
	: >"$T/devnull"
}

@test "with stderr the client socket and no /dev/log, the log is lost but never reaches the client" {
	need_root
	need unshare
	no_devlog
	tunnel_ok --stderr socket --
}

@test "-l syslog with no /dev/log: the tunnel works and nothing goes to stderr" {
	need_root
	need unshare
	no_devlog
	tunnel_ok -- -l syslog
	[ ! -s "$PDIR/stderr" ]
}

@test "a refusal with the longest escaped target arrives whole in one datagram" {
	in_ns
	local ff300 want
	ff300=$(repeat '\xff' 300)
	want=$(repeat '\\xff' 255)
	start_target --wait-eof
	start_proxy -- -l syslog -a 127.0.0.1 -t 5 "$TPORT"
	client "send=CONNECT $ff300:443 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" shut
	assert_refusal 400 http_request_error
	assert_exit 1
	connectd_pid
	syslog_sync
	assert_dgram 1 "$DPID" "client=$(re "$CLOCAL") target=${want}\\.\\.\\. status=400 error=http_request_error"
	assert_target_untouched
}

@test "with fd 0 a pipe, an IPv6 TCPREMOTEIP is written in brackets: [2001:db8::7]:4321" {
	named --pipes --env TCPREMOTEIP=2001:db8::7 --env TCPREMOTEPORT=4321 --env PROTO=TCP
	[ "$NAME" = '[2001:db8::7]:4321' ]
}

@test "with fd 0 a pipe, PROTO=TCP without TCPREMOTEIP names the client by REMOTE_HOST" {
	named --pipes --env PROTO=TCP --env TCPREMOTEPORT=4321 --env REMOTE_HOST=192.0.2.8
	[ "$NAME" = 192.0.2.8 ]
}

@test "with fd 0 a pipe, a TCPREMOTEIP with a space or a newline stays inside its field" {
	named --pipes --env PROTO=TCP --env $'TCPREMOTEIP=1.2.3.4 status=200\nx' --env TCPREMOTEPORT=1
	[ "$NAME" = '1.2.3.4\x20status=200\x0ax:1' ]
}

# stall_syslog: after in_ns, the namespace's /dev/log leads to a socket that
# nobody reads, its queue already full: a blocking send() there never returns.
stall_syslog() {
	stop_pids "$(cat "$T/syslog/pid")"	# the stub that in_ns started
	rm -f "$T/syslog/sock"
	bg "$PY" -c 'import os, socket, sys, time
path, ready = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
c.setblocking(False)
n = 0
try:
    while n < 100000:
        c.sendto(b"filler", path)
        n += 1
except BlockingIOError:
    pass
open(ready, "w").write(str(n))
time.sleep(60)' "$T/syslog/sock" "$T/syslog/stalled"
	wait_file "$T/syslog/stalled" 5
	echo "the stalled socket took $(cat "$T/syslog/stalled") datagrams"
}

@test "a syslog daemon that reads nothing never holds up the tunnel: its lines are dropped" {
	in_ns
	stall_syslog
	tunnel_ok -- -l syslog
	[ ! -s "$PDIR/stderr" ]
}

@test "with stderr closed and -l stderr, no log byte reaches the target or the client" {
	tunnel_ok --stderr closed -- -l stderr
	target_done
	[ "$(field "$TDONE" rx)" = 0 ] || { echo "the target got: $(cat "$TDIR/rx.1")"; return 1; }
}

@test "a closed descriptor 0 or 1 is an error at the start: one line, exit 100" {
	# shellcheck disable=SC2016
	run bash -c 'exec "$1" -l stderr 2>"$2" 0<&-' bash "$CONNECTD" "$T/err.0"
	[ "$status" -eq 100 ]
	assert_lines "$T/err.0" "connectd: descriptor 0 or 1 is closed: no client to serve"
	# shellcheck disable=SC2016
	run bash -c 'exec "$1" -l stderr 2>"$2" 1>&-' bash "$CONNECTD" "$T/err.1"
	[ "$status" -eq 100 ]
	assert_lines "$T/err.1" "connectd: descriptor 0 or 1 is closed: no client to serve"
}

@test "-l auto with pipes on 0 and 1 and stderr the same pipe as stdout (2>&1): syslog, nothing to the client" {
	in_ns
	# shellcheck disable=SC2016
	CONNECTD_WRAP+=(sh -c 'exec "$@" 2>&1' sh)
	tunnel_ok --pipes --
	DECISION="client=- ${DECISION#client=* }"
	CLOSE="client=- ${CLOSE#client=* }"
	syslog_sync
	assert_dgram 1 "$DPID" "$DECISION"
	assert_dgram 2 "$DPID" "$CLOSE"
}

@test "in a terminal, where stdout and stderr are one tty, a usage error is printed there" {
	need script
	run script -qec "$CONNECTD -Z" /dev/null
	[ "$status" -eq 100 ]
	[[ "$output" == "connectd: -Z: unknown option; usage: connectd "* ]]
}
