# lib.bash: helpers for connectd's bats tests. Load with `load lib`.
#
# Everything runs as real processes over real sockets on 127.0.0.1 and ::1, on
# ports the kernel chose; every wait is bounded. Traffic goes nowhere else: a
# test that needs a name to fail to resolve runs connectd in a private mount
# namespace with its own /etc/resolv.conf (see private_dns), and skips unless root.
#
# Per test, under $T (= $BATS_TEST_TMPDIR):
#   $T/target.N/ port, events ("accept n=N peer=A" and "done n=N peer=A rx=.. rxsha=..
#               tx=.. txsha=.. end=.."), rx.N (bytes connection N received), stopped
#   $T/proxy.N/  port, stderr (connectd's log), status (exit code), elapsed
#   $T/out      every byte the client received; $T/info: key=value (see harness.py)

TESTDIR=$BATS_TEST_DIRNAME
CONNECTD=${CONNECTD:-$(cd "$TESTDIR/.." && pwd)/connectd}
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
HARNESS=$TESTDIR/harness.py
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

setup() {
	need python3
	[ -x "$CONNECTD" ] || { echo "no connectd binary at $CONNECTD (run make)"; return 1; }
	T=$BATS_TEST_TMPDIR
	PIDS=()
	FAM=4
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

teardown() {
	stop_pids "${PIDS[@]}"
	sanitizer_reports
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
bg() {
	"$@" </dev/null >>"$T/bg.log" 2>&1 3>&- &
	PIDS+=($!)
	BGPID=$!
}

# wait_file PATH [SECS]: poll (bounded) until PATH exists.
wait_file() {
	local path=$1 secs=${2:-10} end
	end=$(($(date +%s%N) + secs * 1000000000))
	while [ ! -e "$path" ]; do
		if [ "$(date +%s%N)" -gt "$end" ]; then
			echo "timed out after ${secs}s waiting for $path; background output:"
			cat "$T/bg.log" 2>/dev/null
			return 1
		fi
		sleep 0.01
	done
}

# wait_grep FILE REGEX [SECS]: poll (bounded) until a line of FILE matches.
wait_grep() {
	local file=$1 re=$2 secs=${3:-10} end
	end=$(($(date +%s%N) + secs * 1000000000))
	until [ -e "$file" ] && grep -Eq -- "$re" "$file"; do
		if [ "$(date +%s%N)" -gt "$end" ]; then
			echo "timed out after ${secs}s waiting for /$re/ in $file:"
			cat "$file" 2>/dev/null
			return 1
		fi
		sleep 0.01
	done
}

# start_target [target options]: a target server; sets TPORT, TDIR, TPID.
start_target() {
	NTARGET=$((${NTARGET:-0} + 1))
	TDIR=$T/target.$NTARGET
	mkdir -p "$TDIR"
	bg "$PY" "$HARNESS" target --dir "$TDIR" --family "$FAM" "$@"
	TPID=$BGPID
	wait_file "$TDIR/port"
	TPORT=$(cat "$TDIR/port")
}

# stop_target: stop it and count every connection it got, even unaccepted ones.
stop_target() {
	kill -TERM "$TPID"
	wait_file "$TDIR/stopped" 5
	TACCEPTS=$(cat "$TDIR/stopped")
}

# assert_target_untouched: the target got no connection at all.
assert_target_untouched() {
	stop_target
	if [ "$TACCEPTS" != 0 ]; then
		echo "the target got $TACCEPTS connection(s):"
		cat "$TDIR/events"
		return 1
	fi
}

# target_done [N]: wait for connection N (1) to end at the target; sets TDONE.
target_done() {
	local n=${1:-1}
	wait_grep "$TDIR/events" "^done n=$n " 10
	TDONE=$(grep "^done n=$n " "$TDIR/events")
}

# field LINE KEY: the value of KEY=value in a space-separated line.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# start_proxy [launcher options] -- [connectd arguments]: the super-server with
# connectd behind it; sets PPORT, PDIR. Launcher options: --pipes, --env K=V,
# --family 4|6, --timeout S, --stderr file|socket|closed. PROXY_WRAP=(cmd...)
# wraps the launcher (and so connectd), CONNECTD_WRAP=(cmd...) connectd alone.
# connectd's environment has CONNECTD_MARK=$PDIR, which its children inherit
# (see assert_gone).
start_proxy() {
	local lopts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		lopts+=("$1")
		shift
	done
	[ "${1-}" = -- ] && shift
	NPROXY=$((${NPROXY:-0} + 1))
	PDIR=$T/proxy.$NPROXY
	mkdir -p "$PDIR"
	bg "${PROXY_WRAP[@]}" "$PY" "$HARNESS" launch --dir "$PDIR" --family "$FAM" \
		--env "CONNECTD_MARK=$PDIR" "${lopts[@]}" -- \
		"${CONNECTD_WRAP[@]}" "$CONNECTD" "$@"
	wait_file "$PDIR/port" 10
	PPORT=$(cat "$PDIR/port")
}

# client [--timeout S] [--stall S] [--no-read] STEP...: connect to the proxy, run
# the steps, then read to EOF (with --no-read: never read). Steps (harness.py):
# send=BYTES (Python escapes), sendfile=PATH, pause=S, drip=N:S (a byte every S
# seconds until a reply), trickle=S:BYTES (one byte per write, S apart), shut
# (half-close), rst (vanish: a TCP reset), waithead (the response head is in),
# waiteof, stream=N (N bytes of the stream), mark=PATH (create it), waitfile=PATH.
# Sets CLOCAL (the client's address as connectd sees it).
client() {
	local copts=()
	while [ $# -gt 0 ] && [[ $1 == --* ]]; do
		copts+=("$1")
		shift
	done
	"$PY" "$HARNESS" client --port "$PPORT" --family "$FAM" --out "$T/out" --info "$T/info" "${copts[@]}" "$@" 3>&-
	CLOCAL=$(info local)
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

# proxy_exit [SECS]: wait for connectd to end; sets PSTATUS and PLOG (its log lines).
proxy_exit() {
	wait_file "$PDIR/status" "${1:-15}"
	PSTATUS=$(cat "$PDIR/status")
	PLOG=$(cat "$PDIR/stderr")
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

# refused CODE ERROR REQUEST [connectd arguments]: start a target, send REQUEST
# (escapes as in Python bytes; @PORT@ is the target's port) through connectd with
# these arguments (default: -a 127.0.0.1 -t 5 @PORT@), half-close, and check:
# exactly that refusal, the exit status, exactly one log line
# "client=C target=T status=CODE error=ERROR$LOGEXTRA" (T is $LOGTARGET when set,
# @PORT@ replaced), and no connection to the target.
refused() {
	local code=$1 error=$2 req=$3 a args=() t
	shift 3
	[ $# -gt 0 ] || set -- -a 127.0.0.1 -t 5 @PORT@
	[ -n "${KEEP_TARGET-}" ] || start_target --wait-eof
	for a; do
		args+=("${a//@PORT@/$TPORT}")
	done
	start_proxy -- "${args[@]}"
	client "send=${req//@PORT@/$TPORT}" shut
	assert_refusal "$code" "$error"
	assert_exit "$(code_exit "$code")"
	t=${LOGTARGET-}
	if [ -n "$t" ]; then
		t=$(re "${t//@PORT@/$TPORT}")
	else
		t='[^ ]+'
	fi
	a=${LOGEXTRA-}
	assert_log "client=$(re "$CLOCAL") target=$t status=$code error=$error$(re "${a//@PORT@/$TPORT}")"
	assert_target_untouched
}

# accepted REQUEST [connectd arguments]: like refused, but the request must open a
# tunnel: the target's "ok" comes back after exactly the 200, exit 0, two log lines.
accepted() {
	local req=$1 a args=()
	shift
	[ $# -gt 0 ] || set -- -a 127.0.0.1 -t 5 @PORT@
	start_target --send 'ok\n'
	for a; do
		args+=("${a//@PORT@/$TPORT}")
	done
	start_proxy -- "${args[@]}"
	client "send=${req//@PORT@/$TPORT}" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	TLOCAL=${TLOCAL:-127.0.0.1} TNAME=${TNAME//@PORT@/$TPORT} assert_tunnel_log 0 3 eof
	target_done
	[[ $TDONE == *" rx=0 "* ]] || { echo "target: $TDONE"; return 1; }
}

# connect_req AUTHORITY: a CONNECT request for it (HTTP/1.1 with Host), escaped.
connect_req() {
	printf 'CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n' "$1" "$1"
}

# assert_tunnel_log UP DOWN END: the decision and close lines of a tunnel to the
# target, exactly; sets SRCPORT (the logged proxy-source-port).
assert_tunnel_log() {
	local c t a
	c=$(re "$CLOCAL")
	t=$(re "${TNAME:-$TLOCAL:$TPORT}")
	a=$(re "${TADDR:-$TLOCAL:$TPORT}")
	assert_log "client=$c target=$t addr=$a proxy-source-port=[0-9]+ status=200" \
		"client=$c target=$t status=200 up=$1 down=$2 secs=[0-9]+\.[0-9]{3} end=$3"
	SRCPORT=$(field "$(head -n1 "$PDIR/stderr")" proxy-source-port)
}

# named [LAUNCHER OPTIONS]: a refused request (port not allowed) through the
# launcher with these options; sets NAME to the logged client.
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

# isolated_net: connectd runs in a network namespace of its own with no
# interface up (the client's socket still works): any address it tries to reach
# is unreachable and no packet leaves. Needs root and unshare.
isolated_net() {
	need_root
	need unshare
	CONNECTD_WRAP=(unshare --net --)
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
