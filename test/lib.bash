# lib.bash: helpers for connectd's bats tests. Load with `load lib`.
#
# Everything runs as real processes over real sockets on 127.0.0.1 and ::1, on
# ports the kernel chose; every wait is bounded. Traffic goes nowhere else: a
# test that needs a name to fail to resolve runs connectd in a private mount
# namespace with its own /etc/resolv.conf (see private_dns), and skips unless root.
#
# Per test, under $T (= $BATS_TEST_TMPDIR):
#   $T/target.N/ port, pid, events ("accept n=N peer=A" and "done n=N peer=A
#               rx=.. rxsha=.. tx=.. txsha=.. end=.."), rx.N (bytes connection N
#               received), stopped
#   $T/proxy.N/  port, pid, stderr (connectd's log), status (exit code), elapsed
#   $T/out      every byte the client received; $T/info: key=value (see harness.py)
#
# The library's settings: a test sets them before it starts what they apply to
# (each test starts with the defaults). They stay settings rather than options
# because they hold for everything a test starts, helpers such as refused
# included:
#   FAM            4 or 6: the loopback family of targets, launchers and clients
#                  (4); start_target, start_proxy and client take --family for
#                  one call that differs.
#   CONNECTD       the binary (./connectd, or the environment's); start_proxy
#                  --connectd for one call.
#   CONNECTD_WRAP  (cmd ...) to run connectd under (isolated_net,
#                  private_syslog, private_net set it).
#   PROXY_WRAP     (cmd ...) to run the launcher, and so connectd, under
#                  (private_dns sets it).
#   TARGET_WRAP    (cmd ...) to run each target under (private_net sets it).
#
# What the helpers leave, each named in the "Sets:" line of its helper: the
# last target started (TPORT TDIR), the last connectd started (PPORT PDIR), the
# last client (CLOCAL; CLIENTPID in the background), connectd's pid (DPID), and
# what a helper found (TACCEPTS TDONE PSTATUS NAME DECISION CLOSE BGPID). The
# target helpers act on the last target unless given --dir; client, proxy_exit
# and the assert_* helpers act on the last connectd. No helper reads anything
# else that its caller set.

TESTDIR=$BATS_TEST_DIRNAME
CONNECTD=${CONNECTD:-$(cd "$TESTDIR/.." && pwd)/connectd}
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
HARNESS=$TESTDIR/harness.py
TLS=$TESTDIR/tls.py
USAGE='usage: connectd [-46] [-a cidr] [-d cidr] [-A name] [-D name] [-b address] [-c secs] [-e msecs] [-H cidr] [-i secs] [-l auto|stderr|syslog] [-P checker] [-r realm] [-t secs] [-u user] [portspec ...]'
OK200=$'HTTP/1.1 200 Connection established\r\n\r\n'

# need CMD...: skip the test unless every command is installed.
need() {
	local c
	for c; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c (not installed; run test/run as root or install it)"
	done
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

# lib_state: the per-test state and the settings' defaults.
lib_state() {
	T=$BATS_TEST_TMPDIR
	PIDS=()
	FAM=4
	CONNECTD_WRAP=()
	PROXY_WRAP=()
	TARGET_WRAP=()
}

# lib_setup: python3 and the binary are there; lib_state.
lib_setup() {
	need python3
	[ -x "$CONNECTD" ] || { echo "no connectd binary at $CONNECTD (run make)"; return 1; }
	lib_state
}

# lib_teardown: stop what the test started; fail on a sanitizer report.
lib_teardown() {
	stop_pids "${PIDS[@]}"
	if [ -n "${NETNS-}" ]; then
		umount "$NETNS" 2>/dev/null || true
	fi
	sanitizer_reports
}

# A file that needs more defines its own setup or teardown and calls these.
setup() {
	lib_setup
}

teardown() {
	lib_teardown
}

# stop_pids PID...: TERM each, wait for each (5 s at most), then KILL.
stop_pids() {
	local p i
	for p; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p; do
		for ((i = 0; i < 250; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.02
		done
		kill -KILL "$p" 2>/dev/null || true
	done
}

# sanitizer_reports: a sanitizer build's report in any connectd's stderr fails
# the test, whatever it asserted, and is shown (symbolized by harness.py).
sanitizer_reports() {
	local f n re='ERROR: (Address|Leak)Sanitizer|runtime error:|Sanitizer: '
	for f in "$T"/proxy.*/stderr; do
		[ -e "$f" ] && n=$(grep -Enm1 "$re" "$f" | cut -d: -f1) && [ -n "$n" ] || continue
		echo "a sanitizer report in $f (from line $n):"
		sed -n "$((n > 3 ? n - 3 : 1)),$((n + 60))p" "$f" >"$f.report"
		if [ ! -e "$f.raw" ] && command -v asan_symbolize >/dev/null; then
			asan_symbolize <"$f.report" 2>/dev/null || cat "$f.report"
		else
			cat "$f.report"
		fi
		return 1
	done
}

# bg CMD...: run in the background, tracked for teardown, away from bats' fd 3.
# Sets: BGPID.
bg() {
	"$@" </dev/null >>"$T/bg.log" 2>&1 3>&- &
	PIDS+=($!)
	BGPID=$!
}

# alive PID: the process runs (not gone, nor a zombie that bash has not reaped).
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# poll SECS CMD...: run CMD every 10 ms until it succeeds, for SECS at most.
poll() {
	local end=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@"; do
		[ "$(date +%s%N)" -le "$end" ] || return 1
		sleep 0.01
	done
}

# has_line FILE REGEX: FILE is there and a line of it matches.
has_line() {
	[ -e "$1" ] && grep -Eq -- "$2" "$1"
}

# wait_file PATH [SECS]: poll (bounded) until PATH exists.
wait_file() {
	poll "${2:-10}" test -e "$1" && return
	echo "timed out after ${2:-10}s waiting for $1; background output:"
	cat "$T/bg.log" 2>/dev/null
	return 1
}

# wait_grep FILE REGEX [SECS]: poll (bounded) until a line of FILE matches.
wait_grep() {
	poll "${3:-10}" has_line "$1" "$2" && return
	echo "timed out after ${3:-10}s waiting for /$2/ in $1:"
	cat "$1" 2>/dev/null
	return 1
}

# listening DIR PID: DIR/port is there, or PID is gone (then 0 too).
listening() {
	[ -e "$1/port" ] || ! alive "$2"
}

# start_server DIR CMD...: CMD, a server that writes DIR/port once it
# listens, in the background (its pid in DIR/pid); waits for it (10 s at
# most), failing at once if it ends first (its port was taken). Sets: TPORT TDIR.
start_server() {
	local dir=$1
	shift
	mkdir -p "$dir"
	bg "$@"
	echo "$BGPID" >"$dir/pid"
	if ! poll 10 listening "$dir" "$BGPID" || [ ! -e "$dir/port" ]; then
		echo "the server in $dir did not listen; background output:"
		cat "$T/bg.log" 2>/dev/null
		return 1
	fi
	TDIR=$dir
	TPORT=$(cat "$dir/port")
}

# start_target [target options]: a target server (harness.py target) on the
# loopback of FAM (or --family, or where --addr says), under TARGET_WRAP.
# Sets: TPORT TDIR.
start_target() {
	NTARGET=$((${NTARGET:-0} + 1))
	start_server "$T/target.$NTARGET" "${TARGET_WRAP[@]}" "$PY" "$HARNESS" target \
		--dir "$T/target.$NTARGET" --family "$FAM" "$@"
}

# target_dir [--dir DIR]: DIR, or the last target's.
target_dir() {
	if [ "${1-}" = --dir ]; then echo "$2"; else echo "$TDIR"; fi
}

# stop_target [--dir DIR]: stop the target (the last one, or the one in DIR)
# and count every connection it got, even unaccepted ones. Sets: TACCEPTS.
stop_target() {
	local dir
	dir=$(target_dir "$@")
	kill -TERM "$(cat "$dir/pid")"
	wait_file "$dir/stopped" 5
	TACCEPTS=$(cat "$dir/stopped")
}

# assert_target_untouched [--dir DIR]: the target got no connection at all.
assert_target_untouched() {
	local dir
	dir=$(target_dir "$@")
	stop_target --dir "$dir"
	if [ "$TACCEPTS" != 0 ]; then
		echo "the target got $TACCEPTS connection(s):"
		cat "$dir/events"
		return 1
	fi
}

# target_done [--dir DIR] [N]: wait for connection N (1) to end at the
# target. Sets: TDONE (its done line).
target_done() {
	local dir
	dir=$(target_dir "$@")
	[ "${1-}" != --dir ] || shift 2
	wait_grep "$dir/events" "^done n=${1:-1} " 10
	TDONE=$(grep "^done n=${1:-1} " "$dir/events")
}

# field LINE KEY: the value of KEY=value in a space-separated line.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# log_field first|last KEY: the value of KEY in connectd's first or last log line.
log_field() {
	if [ "$1" = first ]; then
		field "$(head -n1 "$PDIR/stderr")" "$2"
	else
		field "$(tail -n1 "$PDIR/stderr")" "$2"
	fi
}

# start_proxy [--connectd PATH] [launcher options] -- [connectd arguments]:
# the super-server with connectd (or PATH) behind it, under the wraps.
# Launcher options: --pipes, --env K=V, --family 4|6, --timeout S, --stderr
# file|socket|closed. connectd's environment has CONNECTD_MARK=$PDIR, which
# its children inherit (see assert_gone). Sets: PPORT PDIR.
start_proxy() {
	local bin=$CONNECTD lopts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		if [ "$1" = --connectd ]; then
			bin=$2
			shift
		else
			lopts+=("$1")
		fi
		shift
	done
	[ "${1-}" = -- ] && shift
	NPROXY=$((${NPROXY:-0} + 1))
	PDIR=$T/proxy.$NPROXY
	mkdir -p "$PDIR"
	bg "${PROXY_WRAP[@]}" "$PY" "$HARNESS" launch --dir "$PDIR" --family "$FAM" \
		--env "CONNECTD_MARK=$PDIR" "${lopts[@]}" -- \
		"${CONNECTD_WRAP[@]}" "$bin" "$@"
	wait_file "$PDIR/port" 10
	PPORT=$(cat "$PDIR/port")
}

# client [--family F] [--timeout S] [--stall S] [--no-read] STEP...: connect
# to the proxy, run the steps, then read to EOF (with --no-read: never read).
# Steps (harness.py): send=BYTES (Python escapes), sendfile=PATH, pause=S,
# drip=N:S (a byte every S seconds until a reply), trickle=S:BYTES (one byte
# per write, S apart), shut (half-close), rst (vanish: a TCP reset), waithead
# (the response head is in), waiteof, stream=N (N bytes of the stream),
# mark=PATH (create it), waitfile=PATH, oob=BYTE (urgent data).
# Sets: CLOCAL (the client's address as connectd sees it).
client() {
	"$PY" "$HARNESS" client --port "$PPORT" --family "$FAM" --out "$T/out" --info "$T/info" "$@" 3>&-
	CLOCAL=$(info local)
}

# client_bg [client options] STEP...: the client in the background, tracked
# for teardown; client_wait waits for it. Sets: CLIENTPID.
client_bg() {
	client "$@" 3>&- &
	CLIENTPID=$!
	PIDS+=("$CLIENTPID")
}

# client_wait: wait for the client of client_bg to end. Sets: CLOCAL.
client_wait() {
	wait "$CLIENTPID"
	CLOCAL=$(cat "$T/info.local")
}

# connectd_pid [--running]: wait for connectd's pid (the launcher's child, which
# execs it); with --running, check that the process is connectd by now.
# Sets: DPID.
connectd_pid() {
	wait_file "$PDIR/pid" 5
	DPID=$(cat "$PDIR/pid")
	[ "${1-}" != --running ] || [ "$(cat "/proc/$DPID/comm" 2>/dev/null)" = connectd ] ||
		{ echo "PID $DPID is not connectd: $(cat "/proc/$DPID/comm" 2>/dev/null); its log:"; cat "$PDIR/stderr"; return 1; }
}

# hold_tunnel [client options] AUTHORITY [STEP...]: in the background, a
# client asks for a tunnel to AUTHORITY, waits for the 200, marks $T/open and
# waits for $T/go (at most 10 s), then runs the steps and reads to the end.
# Returns once the mark is there and connectd runs; release lets the client go
# on. Sets: CLIENTPID DPID.
hold_tunnel() {
	local copts=()
	while [[ ${1-} == --* ]]; do
		copts+=("$1" "$2")
		shift 2
	done
	client_bg "${copts[@]}" "send=$(connect_req "$1")" waithead "mark=$T/open" "waitfile=$T/go" "${@:2}"
	wait_file "$T/open" 10
	connectd_pid --running
}

# release: let the held client go on, and wait for it (it is bounded by its
# --timeout). Sets: CLOCAL.
release() {
	touch "$T/go"
	client_wait
}

# assert_client_end [HOW]: the client's connection ended this way (eof).
assert_client_end() {
	local end
	end=$(info end)
	if [ "$end" != "${1:-eof}" ]; then
		echo "the client's connection ended by '$end', expected '${1:-eof}':"
		cat "$T/info"
		return 1
	fi
}

# info KEY: a value the client recorded.
info() {
	sed -n "s/^$1=//p" "$T/info"
}

# between VALUE LO HI [WHAT]: LO <= VALUE <= HI, decimal numbers.
between() {
	awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }' && return
	echo "${4:-the value}: '$1', not within $2..$3"
	return 1
}

# proxy_exit [SECS]: wait for connectd to end. Sets: PSTATUS.
proxy_exit() {
	wait_file "$PDIR/status" "${1:-15}"
	PSTATUS=$(cat "$PDIR/status")
}

# leftovers: PIDs of live processes started for this test's connectd: it, and
# whatever it forked, found by the CONNECTD_MARK in their environment (a zombie
# has none).
leftovers() {
	grep -lzF -- "CONNECTD_MARK=$T/" /proc/[0-9]*/environ 2>/dev/null |
		sed 's|^/proc/\([0-9]*\)/environ$|\1|' | tr '\n' ' '
}

# assert_gone [SECS]: within SECS (2), no process of this test's connectd is left.
assert_gone() {
	local secs=${1:-2} end pids
	end=$(($(date +%s%N) + secs * 1000000000))
	while pids=$(leftovers) && [ -n "$pids" ]; do
		if [ "$(date +%s%N)" -gt "$end" ]; then
			echo "processes of this test's connectd still run after ${secs}s:"
			ps -o pid,ppid,stat,etime,args -p "$(echo $pids | tr ' ' ',')"
			return 1
		fi
		sleep 0.02
	done
}

# assert_exit CODE: connectd's exit status.
assert_exit() {
	proxy_exit
	if [ "$PSTATUS" != "$1" ]; then
		echo "connectd exit status: expected $1, got $PSTATUS; its stderr:"
		cat "$PDIR/stderr"
		return 1
	fi
}

# assert_lines FILE REGEX...: FILE has exactly these lines, each matching its
# (anchored, extended) regex.
assert_lines() {
	local file=$1 i=0 n line re
	shift
	n=$(wc -l <"$file")
	if [ "$n" -ne $# ] || { [ -s "$file" ] && [ -n "$(tail -c1 "$file")" ]; }; then
		echo "expected $# complete line(s) in $file, got $n:"
		cat -A "$file"
		return 1
	fi
	for re; do
		i=$((i + 1))
		line=$(sed -n "${i}p" "$file")
		if ! [[ $line =~ ^$re$ ]]; then
			echo "$file line $i: expected /^$re\$/"
			echo "             got: $line"
			return 1
		fi
	done
}

# assert_log REGEX...: the log has exactly these lines, each matching its
# (anchored, extended) regex.
assert_log() {
	assert_lines "$PDIR/stderr" "$@"
}

# re TEXT: TEXT with the characters special in an extended regex escaped.
re() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# repeat TEXT N: TEXT N times over, as it is.
repeat() {
	local s='' i
	for ((i = 0; i < $2; i++)); do
		s+=$1
	done
	printf '%s' "$s"
}

# assert_out BYTES: the client received exactly these bytes ($'...' string).
assert_out() {
	local want=$T/want
	printf '%s' "$1" >"$want"
	if ! cmp -s "$want" "$T/out"; then
		echo "the client received:"
		od -c "$T/out" | head -40
		echo "expected:"
		od -c "$want" | head -40
		return 1
	fi
}

# assert_200_first: the client's bytes began with exactly the 200 (for streams,
# whose tunnel bytes are hashed rather than kept).
assert_200_first() {
	if [ "$(info headlen)" != ${#OK200} ] || ! head -c ${#OK200} "$T/out" | cmp -s - <(printf '%s' "$OK200"); then
		echo "the response head was not exactly the 200:"
		head -c 200 "$T/out" | od -c | head
		return 1
	fi
}

# assert_refusal CODE ERROR: the client got exactly one complete refusal.
assert_refusal() {
	"$PY" "$HARNESS" checkresp "$T/out" "$1" "$2"
}

# code_exit CODE: the exit status connectd must give after sending CODE.
code_exit() {
	case $1 in
	200) echo 0 ;;
	4*) echo 1 ;;
	5*) echo 111 ;;
	esac
}

# refused [--target T] [--user U] [--extra X] [--keep-target] CODE ERROR
# REQUEST [connectd arguments]: start a target (with --keep-target: use the
# last one), send REQUEST (escapes as in Python bytes; @PORT@ is the target's
# port) through connectd with these arguments (default: -a 127.0.0.1 -t 5
# @PORT@), half-close, and check: exactly that refusal, the exit status,
# exactly one log line "client=C[ user=U] target=T status=CODE error=ERRORX"
# (T any when not given; @PORT@ replaced in T and X), and no connection to
# the target. Sets: TPORT TDIR PPORT PDIR CLOCAL.
refused() {
	local t='' u='' x='' keep='' code error req
	while [[ $1 == --* ]]; do
		case $1 in
		--keep-target) keep=1 ;;
		--target) t=$2 && shift ;;
		--user) u=" user=$2" && shift ;;
		--extra) x=$2 && shift ;;
		*) echo "refused: unknown option $1" && return 1 ;;
		esac
		shift
	done
	code=$1 error=$2 req=$3
	shift 3
	[ $# -gt 0 ] || set -- -a 127.0.0.1 -t 5 @PORT@
	[ -n "$keep" ] || start_target --wait-eof
	start_proxy -- "${@//@PORT@/$TPORT}"
	client "send=${req//@PORT@/$TPORT}" shut
	assert_refusal "$code" "$error"
	assert_exit "$(code_exit "$code")"
	if [ -n "$t" ]; then t=$(re "${t//@PORT@/$TPORT}"); else t='[^ ]+'; fi
	assert_log "client=$(re "$CLOCAL")$(re "$u") target=$t status=$code error=$error$(re "${x//@PORT@/$TPORT}")"
	assert_target_untouched
}

# ok_tunnel REQUEST [connectd arguments]: a target that sends "ok\n", and
# REQUEST (escapes; @PORT@ is the target's port, in the arguments too) through
# connectd, half-closed: the client gets exactly the 200 and "ok\n", exit 0.
# Sets: TPORT TDIR PPORT PDIR CLOCAL.
ok_tunnel() {
	local req=$1
	shift
	start_target --send 'ok\n'
	start_proxy -- "${@//@PORT@/$TPORT}"
	client "send=${req//@PORT@/$TPORT}" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

# accepted REQUEST [connectd arguments]: like refused, but the request must open a
# tunnel: ok_tunnel, its two log lines, and the target got nothing.
accepted() {
	local req=$1
	shift
	[ $# -gt 0 ] || set -- -a 127.0.0.1 -t 5 @PORT@
	ok_tunnel "$req" "$@"
	assert_tunnel_log 0 3 eof
	target_done
	[[ $TDONE == *" rx=0 "* ]] || { echo "target: $TDONE"; return 1; }
}

# connect_req AUTHORITY: a CONNECT request for it (HTTP/1.1 with Host), escaped.
connect_req() {
	printf 'CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n' "$1" "$1"
}

# tunnel_res [--client C | --client-re RE] [--user U] [--host H] [--target T]
# [--addr A] UP DOWN END: the regexes of the decision and close lines of a
# tunnel: client= C (the last client's address) or RE, then user=U, target= T
# and addr= A (H:TPORT, H being 127.0.0.1 unless given), UP and DOWN bytes
# (regexes), ended by END. Sets: DECISION CLOSE.
tunnel_res() {
	local c u='' h=127.0.0.1 t='' a=''
	c=$(re "$CLOCAL")
	while [[ $1 == --* ]]; do
		case $1 in
		--client) c=$(re "$2") ;;
		--client-re) c=$2 ;;
		--user) u=" user=$(re "$2")" ;;
		--host) h=$2 ;;
		--target) t=$2 ;;
		--addr) a=$2 ;;
		*) echo "tunnel_res: unknown option $1" && return 1 ;;
		esac
		shift 2
	done
	t=$(re "${t:-$h:$TPORT}")
	a=$(re "${a:-$h:$TPORT}")
	DECISION="client=$c$u target=$t addr=$a proxy-source-port=[0-9]+ status=200"
	CLOSE="client=$c$u target=$t status=200 up=$1 down=$2 secs=[0-9]+\.[0-9]{3} end=$3"
}

# assert_tunnel_log [--in FILE] [tunnel_res options] UP DOWN END: the log (or
# FILE) is exactly the decision and close lines of tunnel_res.
assert_tunnel_log() {
	local file=$PDIR/stderr
	if [ "$1" = --in ]; then
		file=$2
		shift 2
	fi
	tunnel_res "$@"
	assert_lines "$file" "$DECISION" "$CLOSE"
}

# named [LAUNCHER OPTIONS]: a refused request (port not allowed) through the
# launcher with these options. Sets: NAME (the logged client), CLOCAL.
named() {
	start_target --wait-eof
	start_proxy "$@" -- -a 127.0.0.1 -t 5 1
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 http_request_denied
	assert_exit 1
	assert_log "client=[^ ]+ target=127\.0\.0\.1:$TPORT status=403 error=http_request_denied"
	NAME=$(field "$(cat "$PDIR/stderr")" client)
	echo "client logged as: $NAME (the client was $CLOCAL)"
	assert_target_untouched
}

# usage_error [--target] LINE ARG...: connectd with these arguments and a
# valid request on standard input (a file, so that a read would move the
# shared offset) prints exactly LINE, exits 100, writes nothing to stdout and
# reads nothing. --target: the request is for a target that the arguments
# allow (-a 127.0.0.1 and its port follow them), which nothing reaches.
usage_error() {
	local target=0 port=443 want rc=0 allow=()
	[ "$1" != --target ] || { target=1; shift; }
	want=$1
	shift
	if [ "$target" = 1 ]; then
		start_target --wait-eof
		port=$TPORT allow=(-a 127.0.0.1 "$TPORT")
	fi
	printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n\r\n' "$port" >"$T/req"
	{
		"$CONNECTD" "$@" "${allow[@]}" >"$T/stdout" 2>"$T/stderr" 3>&- || rc=$?
		cat >"$T/rest"
	} <"$T/req"
	echo "connectd $*: exit $rc, stderr:"
	cat -A "$T/stderr"
	[ "$rc" = 100 ]
	[ "$(cat "$T/stderr")" = "$want" ]
	[ "$(wc -l <"$T/stderr")" -eq 1 ]
	[ ! -s "$T/stdout" ]
	cmp "$T/req" "$T/rest" || { echo "connectd read from its standard input"; return 1; }
	[ "$target" = 0 ] || assert_target_untouched
}

# unread_usage_error LINE ARG...: connectd with these arguments (@PORT@ is a
# target's) behind the launcher, a client's request for that target: exit 100,
# the log exactly LINE, nothing to the client, nothing to the target.
unread_usage_error() {
	local want=$1
	shift
	start_target --wait-eof
	start_proxy -- "${@//@PORT@/$TPORT}"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_exit 100
	[ "$(cat "$PDIR/stderr")" = "$want" ]
	[ ! -s "$T/out" ]
	assert_target_untouched
}

# make_cert: (for setup_file) one certificate for the file, CN=localhost, valid
# for 127.0.0.1 too, in $BATS_FILE_TMPDIR; nothing without openssl.
make_cert() {
	command -v openssl >/dev/null 2>&1 || return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$BATS_FILE_TMPDIR/key.pem" -out "$BATS_FILE_TMPDIR/cert.pem" -days 2 \
		-subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' 2>/dev/null
}

# need_cert: skip without openssl; the certificate of make_cert. Sets: CERT KEY.
need_cert() {
	need openssl
	CERT=$BATS_FILE_TMPDIR/cert.pem
	KEY=$BATS_FILE_TMPDIR/key.pem
	[ -s "$CERT" ] || { echo "no certificate was made"; return 1; }
}

# start_tls MODE: test/tls.py's TLS server (echo or http) with the certificate
# of make_cert. Sets: TPORT TDIR CERT KEY.
start_tls() {
	need_cert
	start_server "$T/tls" "$PY" "$TLS" server --dir "$T/tls" --cert "$CERT" --key "$KEY" --mode "$1"
}

# start_http SIZE: the harness's HTTP server, SIZE bytes of the stream at any
# path, on the loopback of FAM. Sets: TPORT TDIR.
start_http() {
	start_server "$T/http" "$PY" "$HARNESS" http --dir "$T/http" --family "$FAM" --size "$1"
}

# isolated_net: connectd runs in a network namespace of its own with no
# interface up (the client's socket still works): any address it tries to reach
# is unreachable and no packet leaves. Needs root and unshare.
isolated_net() {
	need_root
	need unshare
	CONNECTD_WRAP=(unshare --net --)
}

# private_net CIDR...: connectd and the targets started after run in a network
# namespace of this test's own (bound on $NETNS, unmounted at teardown), its
# loopback up and carrying these addresses too: traffic to them stays in it.
# Needs root, unshare, nsenter and ip.
private_net() {
	local a
	need_root
	need unshare nsenter ip
	NETNS=$T/netns
	: >"$NETNS"
	unshare --net="$NETNS" true
	nsenter --net="$NETNS" ip link set lo up
	for a; do
		nsenter --net="$NETNS" ip addr add "$a" dev lo
	done
	CONNECTD_WRAP=(nsenter --net="$NETNS" --)
	TARGET_WRAP=(nsenter --net="$NETNS" --)
}

# private_syslog: connectd runs in a private mount namespace whose /dev is a
# tmpfs with null, zero, random and urandom, and a /dev/log that leads to a
# syslog stub; its messages are in $T/syslog/messages. Needs root and unshare.
private_syslog() {
	need_root
	need unshare
	mkdir -p "$T/syslog" "$T/olddev"
	bg "$PY" "$HARNESS" syslog --dir "$T/syslog" --path "$T/syslog/sock"
	wait_file "$T/syslog/ready" 5
	: >>"$T/syslog/messages"
	# shellcheck disable=SC2016
	CONNECTD_WRAP=(unshare --mount --propagation private -- sh -c '
		set -e
		mount --bind /dev "$1/olddev"
		mount -t tmpfs -o mode=755 none /dev
		for n in null zero random urandom; do
			: >"/dev/$n"
			mount --bind "$1/olddev/$n" "/dev/$n"
		done
		ln -s "$1/syslog/sock" /dev/log
		shift
		exec "$@"' sh "$T")
}

# private_dns MODE: set PROXY_WRAP so that connectd runs in a private mount
# namespace whose /etc/resolv.conf names a DNS stub on 127.53.x.y:53 (MODE
# nxdomain or silent; queries logged to $T/dns/queries) and whose /etc/hosts maps
# only localhost, target.test (127.0.0.1) and dual.test (127.0.0.1 and ::1).
# Needs root and unshare.
private_dns() {
	need_root
	need unshare
	local addr=127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1)) f
	for f in /etc/resolv.conf /etc/hosts /etc/nsswitch.conf; do
		[ -e "$f" ] || skip "no $f to bind a private one over"
	done
	mkdir -p "$T/etc" "$T/dns"
	printf 'nameserver %s\n' "$addr" >"$T/etc/resolv.conf"
	printf '127.0.0.1\tlocalhost target.test dual.test\n::1\tlocalhost dual.test\n' >"$T/etc/hosts"
	printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files dns' \
		'networks: files' 'protocols: files' 'services: files' >"$T/etc/nsswitch.conf"
	bg "$PY" "$HARNESS" dns --dir "$T/dns" --addr "$addr" --mode "$1"
	wait_file "$T/dns/ready" 5 || skip "could not run a DNS stub on $addr:53"
	: >>"$T/dns/queries"
	# shellcheck disable=SC2016
	PROXY_WRAP=(unshare --mount --propagation private -- sh -c '
		set -e
		for d in /run/nscd /var/run/nscd; do
			if [ -d "$d" ]; then mount -t tmpfs none "$d"; fi
		done
		mount --bind "$1/resolv.conf" /etc/resolv.conf
		mount --bind "$1/hosts" /etc/hosts
		mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf
		if [ -e "$1/gai.conf" ]; then mount --bind "$1/gai.conf" /etc/gai.conf; fi
		shift
		exec "$@"' sh "$T/etc")
}

# private_hosts LINE...: private_dns (a stub that answers NXDOMAIN), with an
# /etc/hosts of exactly these lines.
private_hosts() {
	private_dns nxdomain
	printf '%s\n' "$@" >"$T/etc/hosts"
}

# no_dns_query: the stub of private_dns was never asked.
no_dns_query() {
	if [ -s "$T/dns/queries" ]; then
		echo "connectd asked the DNS $(wc -l <"$T/dns/queries") time(s):"
		cat "$T/dns/queries"
		return 1
	fi
}

# resolves_to NAME ADDR...: in the private namespace of private_hosts, the C
# library resolves NAME to exactly these addresses, in this order (it sorts
# them by RFC 6724; in 127.0.0.128/25 its order is that of /etc/hosts).
resolves_to() {
	local name=$1 got
	shift
	got=$("${PROXY_WRAP[@]}" getent ahosts "$name" | awk '$2 == "STREAM" { print $1 }' | tr '\n' ' ')
	if [ "$got" != "$* " ]; then
		echo "$name resolves to: $got"
		echo "     expected: $* "
		return 1
	fi
}
