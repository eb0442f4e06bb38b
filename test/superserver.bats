#!/usr/bin/env bats
# connectd under real super-servers, each started by the test on 127.0.0.1 in a
# private mount namespace (see super.bash): ucspi-tcp's tcpserver (with
# examples/run.tcpserver), systemd-socket-activate -a --inetd, openbsd-inetd
# (with examples/inetd.conf) and xinetd (with examples/connectd.xinetd).
# Under each: a tunnel is byte-exact, the client's stream holds only the
# response and the tunnel's bytes, the log lines go to the right place
# (stderr under tcpserver and systemd-socket-activate; syslog under inetd and
# xinetd, which put the client socket on descriptor 2), and the client is
# named by its address and port.

load lib
load super

N=$((4 << 20))

setup_file() {
	# Debian's xinetd and openbsd-inetd conflict: neither is installed, both
	# are fetched as .deb files and unpacked in the test's folder.
	[ "$(id -u)" -eq 0 ] || return 0
	debs_ready xinetd openbsd-inetd
}

# need_kind KIND: skip unless this super-server can be had.
need_kind() {
	case $1 in
	tcpserver) need tcpserver ;;
	ssa) need systemd-socket-activate ;;
	inetd) need_root && need_deb openbsd-inetd ;;
	xinetd) need_root && need_deb xinetd ;;
	esac
}

# to_syslog KIND: does connectd log to syslog under KIND with -l auto?
to_syslog() {
	[ "$1" = inetd ] || [ "$1" = xinetd ]
}

# assert_logged [--pid PID] KIND WHERE REGEX...: connectd's lines are exactly
# these, all in WHERE (stderr or syslog), and none in the other place. In
# syslog, each is one datagram "<30>Mmm dd hh:mm:ss connectd[PID]: LINE", PID
# (a regex) being connectd's pid as the super-server says (super_dpid).
assert_logged() {
	local pid='' kind where i=0 f re res=()
	if [ "$1" = --pid ]; then
		pid=$2
		shift 2
	fi
	kind=$1 where=$2
	shift 2
	if [ -z "$pid" ]; then
		super_dpid "$kind"
		pid=$DPID
	fi
	super_log "$kind"
	syslog_sync
	syslog_lines
	if [ "$where" = stderr ]; then
		assert_lines "$T/stderr.lines" "$@"
		assert_lines "$T/syslog.lines"
		return
	fi
	assert_lines "$T/stderr.lines"
	for re; do
		res+=("<30>.{15} connectd\\[$pid\\]: $re")
	done
	assert_lines "$T/syslog.lines" "${res[@]}"
	for f in $(grep -l " connectd\\[" "$T"/syslog/dgram.* | sort -t. -k2 -n); do
		i=$((i + 1))
		assert_dgram "${f##*.}" "$pid" "${!i}"
	done
}

# tunnel_under KIND: 4 MiB each way through connectd under KIND.
tunnel_under() {
	local kind=$1 want where=stderr
	need_kind "$kind"
	ns_wrap
	start_target --bytes "$N"
	start_super "$kind" -a 127.0.0.1 -t 5 -i 10 "$TPORT"
	client --timeout 30 --stall 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "stream=$N" shut
	assert_client_end eof
	echo "client: $(tr '\n' ' ' <"$T/info")"
	# Only the 200, then exactly the target's bytes: no log text, ever.
	assert_200_first
	want=$("$PY" "$HARNESS" streamsha "$N")
	[ "$(info rx)" = "$N" ]
	[ "$(info rxsha)" = "$want" ]
	target_done
	echo "target: $TDONE"
	[ "$(field "$TDONE" rx)" = "$N" ]
	[ "$(field "$TDONE" rxsha)" = "$want" ]
	super_exit "$kind" 0
	to_syslog "$kind" && where=syslog
	[[ $CLOCAL =~ ^127\.0\.0\.1:[0-9]+$ ]]
	tunnel_res "$N" "$N" eof
	assert_logged "$kind" "$where" "$DECISION" "$CLOSE"
}

# refusal_under KIND: a port that is not allowed, under KIND.
refusal_under() {
	local kind=$1 where=stderr
	need_kind "$kind"
	ns_wrap
	start_target --wait-eof
	start_super "$kind" -a 127.0.0.1 -t 5 -i 10 1
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 http_request_denied
	super_exit "$kind" 1
	to_syslog "$kind" && where=syslog
	assert_logged "$kind" "$where" \
		"client=$(re "$CLOCAL") target=127\\.0\\.0\\.1:$TPORT status=403 error=http_request_denied"
	assert_target_untouched
}

@test "under tcpserver (examples/run.tcpserver): 4 MiB each way byte-exact, log on stderr, client=127.0.0.1:port" {
	tunnel_under tcpserver
}

@test "under tcpserver: a refusal reaches the client alone, its log line on stderr" {
	refusal_under tcpserver
}

@test "under systemd-socket-activate -a --inetd: 4 MiB each way byte-exact, log on stderr, client=127.0.0.1:port" {
	tunnel_under ssa
}

@test "under systemd-socket-activate -a --inetd: a refusal reaches the client alone, its log line on stderr" {
	refusal_under ssa
}

@test "under openbsd-inetd (examples/inetd.conf): 4 MiB each way byte-exact, log in syslog only, client=127.0.0.1:port" {
	tunnel_under inetd
}

@test "under openbsd-inetd: a refusal reaches the client alone, its log line in syslog only" {
	refusal_under inetd
}

@test "under xinetd (examples/connectd.xinetd): 4 MiB each way byte-exact, log in syslog only, client=127.0.0.1:port" {
	tunnel_under xinetd
}

@test "under xinetd: a refusal reaches the client alone, its log line in syslog only" {
	refusal_under xinetd
}

@test "under tcpserver, -l syslog sends each line to syslog as one datagram and none to stderr" {
	need_kind tcpserver
	ns_wrap
	start_target --send 'ok\n'
	start_super tcpserver -l syslog -a 127.0.0.1 -t 5 -i 10 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}ok"$'\n'
	super_exit tcpserver 0
	tunnel_res 0 3 eof
	assert_logged tcpserver syslog "$DECISION" "$CLOSE"
}

@test "under systemd-socket-activate, -l stderr keeps the lines on stderr and sends none to syslog" {
	need_kind ssa
	ns_wrap
	start_target --wait-eof
	start_super ssa -l stderr -a 127.0.0.1 -t 5 -i 10 1
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 http_request_denied
	super_exit ssa 1
	assert_logged ssa stderr \
		"client=$(re "$CLOCAL") target=127\\.0\\.0\\.1:$TPORT status=403 error=http_request_denied"
}

@test "under openbsd-inetd, a usage error goes to syslog and the client gets nothing" {
	need_kind inetd
	ns_wrap
	start_target --wait-eof
	start_super inetd -c 0 "$TPORT"
	# connectd exits before it reads the request: the client may see a reset.
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	[ ! -s "$T/out" ] || { od -c "$T/out" | head; return 1; }
	super_exit inetd 100
	assert_logged inetd syslog 'connectd: -c: not a number of seconds in 1\.\.3600: 0'
	assert_target_untouched
}

# named_piped KIND [ARGS]: connectd under KIND behind two pipes (in the
# namespace, /usr/local/sbin/connectd becomes `cat | connectd "$@" | cat`), so
# that getpeername on descriptor 0 fails and the name comes from what KIND put
# in the environment. A refusal. Sets: NAME (the logged client).
named_piped() {
	local kind=$1 where=stderr
	shift
	need_kind "$kind"
	ns_wrap
	printf '%s\n' '#!/bin/sh' 'cat | /usr/local/sbin/connectd.real "$@" | cat' >"$T/piped"
	start_target --wait-eof
	start_super "$kind" "$@" -a 127.0.0.1 -t 5 1
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 http_request_denied
	to_syslog "$kind" && where=syslog
	# The super-server names the wrapper's pid, not connectd's.
	assert_logged --pid '[0-9]+' "$kind" "$where" \
		"client=[^ ]+ target=127\\.0\\.0\\.1:$TPORT status=403 error=http_request_denied"
	if [ "$where" = syslog ]; then
		NAME=$(field "$(cat "$T/syslog.lines")" client)
	else
		NAME=$(field "$(cat "$T/stderr.lines")" client)
	fi
	echo "client logged as: $NAME (the client was $CLOCAL)"
	assert_target_untouched
}

@test "under tcpserver with pipes on 0 and 1, the client is TCPREMOTEIP:TCPREMOTEPORT, the client's own address and port" {
	named_piped tcpserver
	[ "$NAME" = "$CLOCAL" ]
}

@test "under xinetd with pipes on 0 and 1 (and -l syslog), the client is xinetd's REMOTE_HOST, the address alone" {
	named_piped xinetd -l syslog
	[ "$NAME" = 127.0.0.1 ]
}

@test "under openbsd-inetd with pipes on 0 and 1 (and -l syslog), the client is -: inetd names no client" {
	named_piped inetd -l syslog
	[ "$NAME" = - ]
}
