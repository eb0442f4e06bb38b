#!/usr/bin/env bats
# Security: the target addresses that are never a remote site and the
# malformed numeric hosts the C library would misread, refused by default; -a
# opening them again; names with allowed and denied addresses; rule order and
# default-deny; every address of a name judged, and how many are tried; -4 and
# -6 as the family on the wire; becoming an unprivileged user as root (-u); the
# seccomp sandbox in the normal binary, during real tunnels.
#
# Traffic goes only to 127.0.0.0/8 and ::1. Where connectd, were it wrong, could
# send a packet anywhere else (link-local, multicast, broadcast, NAT64, 6to4,
# 192.0.2.1), it runs in a network namespace of its own with no interface up
# (isolated_net), or with only lo up, carrying the IPv6 address of a target of
# the test (netns_target). Names other than localhost are resolved in a
# private mount namespace whose /etc/hosts and /etc/resolv.conf are files of
# the test, the resolver being a stub on 127.53.x.y that logs every query
# (private_dns); the machine's /etc is never touched.

load lib

# ------------------------------------------------------------------ helpers

# targets_on ADDR... [-- target options]: one target on each address, all on
# the same port (the kernel's choice for the first; tried again on another port
# when a later address has it taken). Sets: PORT TDIRS TADDRS (in order), and
# TPORT TDIR as start_target does.
targets_on() {
	local addrs=() opts=() a d try
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		addrs+=("$1")
		shift
	done
	[ "${1-}" = -- ] && shift
	opts=("$@")
	for ((try = 0; try < 5; try++)); do
		start_target --addr "${addrs[0]}" "${opts[@]}"
		TDIRS=("$TDIR") TADDRS=("${addrs[0]}") PORT=$TPORT
		for a in "${addrs[@]:1}"; do
			# It ends at once when the port is taken on $a.
			start_target --addr "$a" --port "$PORT" "${opts[@]}" || break
			TDIRS+=("$TDIR")
			TADDRS+=("$a")
		done
		[ "${#TDIRS[@]}" -lt "${#addrs[@]}" ] || return 0
		for d in "${TDIRS[@]}"; do
			kill -TERM "$(cat "$d/pid")" 2>/dev/null || true
		done
	done
	echo "could not get one port on ${addrs[*]}"
	return 1
}

# untouched_all: every target of targets_on got no connection at all.
untouched_all() {
	local i
	for i in "${!TDIRS[@]}"; do
		assert_target_untouched --dir "${TDIRS[$i]}" || { echo "(the target on ${TADDRS[$i]})"; return 1; }
	done
}

# only_target I: target I of targets_on got exactly one connection; every other
# one got none.
only_target() {
	local i
	for i in "${!TDIRS[@]}"; do
		stop_target --dir "${TDIRS[$i]}"
		if [ "$i" = "$1" ] && [ "$TACCEPTS" != 1 ]; then
			echo "the target on ${TADDRS[$i]} got $TACCEPTS connections, expected 1:"
			cat "${TDIRS[$i]}/events" 2>/dev/null
			return 1
		fi
		if [ "$i" != "$1" ] && [ "$TACCEPTS" != 0 ]; then
			echo "the target on ${TADDRS[$i]} (denied) got $TACCEPTS connection(s):"
			cat "${TDIRS[$i]}/events"
			return 1
		fi
	done
}

# refused_by_default HOST CODE [ADDR-REGEX RULE]: with targets listening on
# 127.0.0.1 and ::1 on one port, and connectd given only that port (and -t 5),
# CONNECT HOST:PORT gets exactly this refusal (400 http_request_error, or 403
# destination_ip_prohibited with addr=ADDR:PORT rule=RULE in the log line),
# exit 1, exactly one log line, and neither target gets a connection.
refused_by_default() {
	local host=$1 code=$2 addr=${3-} rule=${4-} error more=
	targets_on 127.0.0.1 ::1 -- --wait-eof
	start_proxy -- -t 5 "$PORT"
	client "send=$(connect_req "$host:$PORT")" shut
	if [ "$code" = 400 ]; then
		error=http_request_error
	else
		error=destination_ip_prohibited
		more=" addr=$addr:$PORT rule=$(re "$rule")"
	fi
	assert_refusal "$code" "$error"
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=$(re "$host:$PORT") status=$code error=$error$more"
	untouched_all
}

# refused_isolated HOST ADDR RULE: the same for an address outside loopback, with
# connectd in a network namespace with no interface up (nothing can leave; were
# it to try to connect, the answer would be a 502, not the 403).
refused_isolated() {
	local host=$1 addr=$2 rule=$3
	isolated_net
	start_proxy -- -t 5 8443
	client "send=$(connect_req "$host:8443")" shut
	assert_refusal 403 destination_ip_prohibited
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=$(re "$host:8443") status=403 error=destination_ip_prohibited addr=$(re "$addr:8443") rule=$(re "$rule")"
}

# tunnel_through [--listen LADDR] HOST ADDR [connectd arguments]: a target on
# 127.0.0.1 (or LADDR) that sends binary bytes and waits for EOF; CONNECT
# HOST:PORT through connectd with these arguments (default: -t 5 PORT) opens a
# tunnel that moves bytes byte for byte both ways; the log names ADDR:PORT as
# addr; exit 0; the target got one connection.
tunnel_through() {
	local listen=127.0.0.1 host addr
	if [ "$1" = --listen ]; then
		listen=$2
		shift 2
	fi
	host=$1 addr=$2
	shift 2
	start_target --addr "$listen" --send 'down\x00\xff\r\n\x7f' --wait-eof
	[ $# -gt 0 ] || set -- -t 5
	start_proxy -- "$@" "$TPORT"
	client "send=$(connect_req "$host:$TPORT")up\\x00\\xfe\\r\\n\\x80" shut
	{ printf '%s' "$OK200"; printf 'down\x00\xff\r\n\x7f'; } >"$T/want"
	cmp "$T/want" "$T/out" || { od -c "$T/out" | head; return 1; }
	assert_client_end eof
	assert_exit 0
	assert_tunnel_log --target "$host:$TPORT" --addr "$addr:$TPORT" 7 9 eof
	target_done
	printf 'up\x00\xfe\r\n\x80' | cmp - "$TDIR/rx.1"
	stop_target
	[ "$TACCEPTS" = 1 ]
}

# to_connect_attempt HOST [connectd arguments]: with connectd in a network
# namespace with no interface up, CONNECT HOST:8443 passes the address rules and
# fails in the connect: a complete 502 or 504 refusal (any Proxy-Status error of
# the connect), exit 111, one log line without addr= or rule=.
to_connect_attempt() {
	local host=$1 code error
	shift
	isolated_net
	start_proxy -- "$@" -t 5 -c 2 8443
	client "send=$(connect_req "$host:8443")" shut
	code=$(head -c 12 "$T/out" | cut -c10-12)
	error=$(sed -n 's/^Proxy-Status: connectd; error=\([a-z_]*\);.*/\1/p' "$T/out" | head -n1)
	case $code:$error in
	502:connection_refused | 502:destination_ip_unroutable | 502:proxy_configuration_error | \
		502:destination_unavailable | 504:connection_timeout) ;;
	*)
		echo "expected a 502 or 504 from the connect, got:"
		od -c "$T/out" | head
		return 1
		;;
	esac
	assert_refusal "$code" "$error"
	assert_exit 111
	assert_log "client=$(re "$CLOCAL") target=$(re "$host:8443") status=$code error=$error"
}

# netns_target ADDR [target options]: a target on the IPv6 address ADDR, in a
# network namespace of the test's own (private_net) whose only interface is
# lo, up, with ADDR on it; connectd runs in that namespace too, where ADDR is
# a local address and nothing else is reachable. Sets: TPORT TDIR. Needs
# root, unshare, nsenter and ip.
netns_target() {
	local addr=$1
	shift
	private_net "$addr/128"
	start_target --addr "$addr" "$@"
}

# carrier_refused ADDR: in ADDR's own namespace (netns_target), CONNECT
# [ADDR]:PORT with no -a gets 403, rule builtin:loopback, and the target on ADDR
# gets no connection.
carrier_refused() {
	local addr=$1
	netns_target "$addr" --wait-eof
	start_proxy -- -t 5 "$TPORT"
	client "send=$(connect_req "[$addr]:$TPORT")" shut
	assert_refusal 403 destination_ip_prohibited
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=$(re "[$addr]:$TPORT") status=403 error=destination_ip_prohibited addr=$(re "[$addr]:$TPORT") rule=builtin:loopback"
	assert_target_untouched
}

# carrier_opened ADDR: the same with -a 127.0.0.1 opens a tunnel to the target on ADDR.
carrier_opened() {
	local addr=$1
	netns_target "$addr" --send 'ok\n'
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "[$addr]:$TPORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log --target "[$addr]:$TPORT" --addr "[$addr]:$TPORT" 0 3 eof
	stop_target
	[ "$TACCEPTS" = 1 ]
}

# hosts_lines NAME FIRST LAST: /etc/hosts lines for NAME on 127.0.0.FIRST to
# 127.0.0.LAST, in order; sets HLINES to them and ADDRS to the addresses.
hosts_lines() {
	local i
	ADDRS=() HLINES=()
	for ((i = $2; i <= $3; i++)); do
		ADDRS+=("127.0.0.$i")
		HLINES+=("127.0.0.$i	$1")
	done
}


# v6only PID PORT: PID has a socket connected over IPv6 to port PORT, and every
# such socket, taken with pidfd_getfd(2), is IPV6_V6ONLY.
v6only() {
	"$PY" - "$1" "$2" <<'PYEOF'
import ctypes, os, socket, sys
pid, port = int(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
found = []
for name in os.listdir("/proc/%d/fd" % pid):
    try:
        if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
            continue
    except FileNotFoundError:
        continue
    fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
    if fd < 0:
        sys.exit("pidfd_getfd: " + os.strerror(ctypes.get_errno()))
    s = socket.socket(fileno=fd)
    try:
        peer = s.getpeername()
    except OSError:
        peer = None
    if s.family == socket.AF_INET6 and peer and peer[1] == port:
        found.append((name, s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)))
    s.close()
print("descriptor, IPV6_V6ONLY of each IPv6 socket to port %d: %s" % (port, found))
sys.exit(0 if found and all(v == 1 for _, v in found) else 1)
PYEOF
}

# proc_field PID NAME: the value of NAME: in /proc/PID/status, blanks squeezed
# to one space and trimmed.
proc_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' '  ' | sed 's/ *$//'
}

# assert_proc PID NAME VALUE: /proc/PID/status says NAME: VALUE.
assert_proc() {
	local got
	got=$(proc_field "$1" "$2")
	if [ "$got" != "$3" ]; then
		echo "/proc/$1/status: $2: '$got', expected '$3'"
		grep -E '^(Name|Uid|Gid|Groups|NoNewPrivs|Seccomp):' "/proc/$1/status"
		return 1
	fi
}

# assert_user PID USER: the process runs as USER with USER's primary group, on
# all four ids (real, effective, saved, filesystem).
assert_user() {
	local u g
	u=$(id -u "$2") g=$(id -g "$2")
	assert_proc "$1" Uid "$u $u $u $u"
	assert_proc "$1" Gid "$g $g $g $g"
}

# ------------------------------------------- 1. refused by default, exactly

@test "127.0.0.1 is refused by default with 403, rule builtin:loopback, and no connection" {
	refused_by_default 127.0.0.1 403 '127\.0\.0\.1' builtin:loopback
}

@test "127.1 is malformed: 400, and no connection" {
	refused_by_default 127.1 400
}

@test "2130706433 is malformed: 400, and no connection" {
	refused_by_default 2130706433 400
}

@test "0x7f.1 is malformed: 400, and no connection" {
	refused_by_default 0x7f.1 400
}

@test "0177.0.0.1 is malformed: 400, and no connection" {
	refused_by_default 0177.0.0.1 400
}

@test "[::1] is refused by default with 403, rule builtin:loopback, and no connection" {
	refused_by_default '[::1]' 403 '\[::1\]' builtin:loopback
}

@test "[::ffff:127.0.0.1] is refused by default with 403 as the loopback it carries" {
	refused_by_default '[::ffff:127.0.0.1]' 403 '\[::ffff:127\.0\.0\.1\]' builtin:loopback
}

@test "[::ffff:7f00:1] is refused by default with 403 as the loopback it carries" {
	refused_by_default '[::ffff:7f00:1]' 403 '\[::ffff:127\.0\.0\.1\]' builtin:loopback
}

@test "[64:ff9b::7f00:1] (NAT64) is refused by default with 403 as the loopback it carries" {
	refused_isolated '[64:ff9b::7f00:1]' '[64:ff9b::7f00:1]' builtin:loopback
}

@test "[2002:7f00:1::] (6to4) is refused by default with 403 as the loopback it carries" {
	refused_isolated '[2002:7f00:1::]' '[2002:7f00:1::]' builtin:loopback
}

@test "[::ffff:0:7f00:1] (IPv4-translated) is refused by default with 403, and its target gets nothing" {
	carrier_refused ::ffff:0:7f00:1
}

@test "[64:ff9b:1::7f00:1] (local NAT64) is refused by default with 403, and its target gets nothing" {
	carrier_refused 64:ff9b:1::7f00:1
}

@test "169.254.169.254 (cloud metadata) is refused by default with 403, rule builtin:link-local" {
	refused_isolated 169.254.169.254 169.254.169.254 builtin:link-local
}

@test "0.0.0.0 is refused by default with 403, rule builtin:unspecified, and no connection" {
	# Linux would connect 0.0.0.0 to this host: the targets on loopback would see it.
	refused_by_default 0.0.0.0 403 '0\.0\.0\.0' builtin:unspecified
}

@test "[::] is refused by default with 403, rule builtin:unspecified, and no connection" {
	refused_by_default '[::]' 403 '\[::\]' builtin:unspecified
}

@test "224.0.0.1 is refused by default with 403, rule builtin:multicast" {
	refused_isolated 224.0.0.1 224.0.0.1 builtin:multicast
}

@test "255.255.255.255 is refused by default with 403, rule builtin:broadcast" {
	refused_isolated 255.255.255.255 255.255.255.255 builtin:broadcast
}

@test "localhost is refused by default with 403: it resolves from /etc/hosts to loopback" {
	private_hosts '127.0.0.1	localhost' '::1	localhost'
	refused_by_default localhost 403 '(127\.0\.0\.1|\[::1\])' builtin:loopback
	no_dns_query
}

# --------------------------------------------------- 2. opened again by -a

@test "-a 127.0.0.1 opens 127.0.0.1: the tunnel moves bytes byte for byte" {
	tunnel_through 127.0.0.1 127.0.0.1 -a 127.0.0.1 -t 5
}

@test "-a 127.0.0.1 opens [::ffff:127.0.0.1] over IPv4: the tunnel reaches 127.0.0.1, logged as such" {
	tunnel_through '[::ffff:127.0.0.1]' 127.0.0.1 -a 127.0.0.1 -t 5
}

@test "-a 127.0.0.1 opens [::ffff:7f00:1] over IPv4: the tunnel reaches 127.0.0.1, logged as such" {
	tunnel_through '[::ffff:7f00:1]' 127.0.0.1 -a 127.0.0.1 -t 5
}

@test "-b 127.0.0.1 connects to [::ffff:127.0.0.1] from 127.0.0.1: an IPv4-mapped target is IPv4" {
	tunnel_through '[::ffff:127.0.0.1]' 127.0.0.1 -a 127.0.0.1 -b 127.0.0.1 -t 5
}

@test "-a 127.0.0.1 opens [::ffff:0:7f00:1] (IPv4-translated) to a target on that IPv6 address" {
	carrier_opened ::ffff:0:7f00:1
}

@test "-a 127.0.0.1 opens [64:ff9b:1::7f00:1] (local NAT64) to a target on that IPv6 address" {
	carrier_opened 64:ff9b:1::7f00:1
}

@test "-a ::1 opens [::1]: the tunnel reaches the target on ::1" {
	tunnel_through --listen ::1 '[::1]' '[::1]' -a ::1 -t 5
}

@test "-a 127.0.0.0/8 opens localhost through 127.0.0.1, and its ::1 stays denied" {
	private_hosts '127.0.0.1	localhost' '::1	localhost'
	targets_on 127.0.0.1 ::1 -- --send 'ok\n'
	start_proxy -- -a 127.0.0.0/8 -t 5 "$PORT"
	client "send=$(connect_req "localhost:$PORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log --target "localhost:$PORT" --addr "127.0.0.1:$PORT" 0 3 eof
	only_target 0
	no_dns_query
}

@test "-a 127.0.0.1 lets [64:ff9b::7f00:1] through the rules to a connect attempt (502, not 403)" {
	# No NAT64 here: connectd runs with no network at all, so the attempt
	# fails at once and nothing leaves.
	to_connect_attempt '[64:ff9b::7f00:1]' -a 127.0.0.1
}

@test "-a 127.0.0.1 lets [2002:7f00:1::] through the rules to a connect attempt (502, not 403)" {
	# No 6to4 relay here: the same.
	to_connect_attempt '[2002:7f00:1::]' -a 127.0.0.1
}

# ----------------------------------- 3. names, rule order, default-deny

# both_test DENIED: both.test is DENIED and 127.0.0.1 (in that order in a
# private /etc/hosts), with a target on each and -a 127.0.0.1: the tunnel goes
# to 127.0.0.1 only, without a DNS query.
both_test() {
	private_hosts "$1	both.test" '127.0.0.1	both.test'
	targets_on 127.0.0.1 "$1" -- --send 'ok\n' --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$PORT"
	client "send=$(connect_req "both.test:$PORT")hi" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log --target "both.test:$PORT" --addr "127.0.0.1:$PORT" 2 3 eof
	only_target 0
	target_done --dir "${TDIRS[0]}"
	[ "$(cat "${TDIRS[0]}/rx.1")" = hi ]
	no_dns_query
}

@test "a name on a denied and an allowed IPv4 address connects only to the allowed one" {
	both_test 127.0.0.2
}

@test "a name whose first address (::1) is denied skips it and connects to the allowed 127.0.0.1" {
	# getaddrinfo puts ::1 before 127.0.0.1 (RFC 6724 precedence).
	both_test ::1
}

@test "a name on denied addresses only gets 403 naming the first address and its rule" {
	private_hosts '127.0.0.2	denied.test' '127.0.0.3	denied.test'
	targets_on 127.0.0.2 127.0.0.3 -- --wait-eof
	start_proxy -- -a 127.0.0.1 -d 127.0.0.2 -t 5 "$PORT"
	client "send=$(connect_req "denied.test:$PORT")" shut
	assert_refusal 403 destination_ip_prohibited
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=denied\.test:$PORT status=403 error=destination_ip_prohibited addr=127\.0\.0\.2:$PORT rule=deny:127\.0\.0\.2"
	untouched_all
	no_dns_query
}

@test "-d 127.0.0.1 -a 127.0.0.0/8 refuses 127.0.0.1: the first rule that matches decides" {
	refused --target 127.0.0.1:@PORT@ --extra ' addr=127.0.0.1:@PORT@ rule=deny:127.0.0.1' 403 destination_ip_prohibited \
		"$(connect_req 127.0.0.1:@PORT@)" -d 127.0.0.1 -a 127.0.0.0/8 -t 5 @PORT@
}

@test "-a 127.0.0.0/8 -d 127.0.0.1 opens 127.0.0.1: the first rule that matches decides" {
	tunnel_through 127.0.0.1 127.0.0.1 -a 127.0.0.0/8 -d 127.0.0.1 -t 5
}

@test "with an -a given, a remote address it does not cover gets 403 default-deny before any connect" {
	# No network for connectd: had it tried to connect, the answer would be 502.
	isolated_net
	start_proxy -- -a 127.0.0.1 -t 5 443
	client "send=$(connect_req 192.0.2.1:443)" shut
	assert_refusal 403 destination_ip_prohibited
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=192\.0\.2\.1:443 status=403 error=destination_ip_prohibited addr=192\.0\.2\.1:443 rule=default-deny"
}

# ------------------------------- 4. every address judged; how many are tried

# many_hosts LAST: many.test is 127.0.0.128 to 127.0.0.LAST, in that order, in
# a private /etc/hosts. Sets: ADDRS HLINES.
many_hosts() {
	hosts_lines many.test 128 "$1"
	private_hosts "${HLINES[@]}"
	resolves_to many.test "${ADDRS[@]}"
}

# many_through LAST I [connectd rules]: many_hosts LAST, each address with a
# target that sends "ok\n"; under these rules, CONNECT many.test:PORT opens a
# tunnel to address I (0 is the first) and no other, without a DNS query.
many_through() {
	local i=$2
	many_hosts "$1"
	shift 2
	targets_on "${ADDRS[@]}" -- --send 'ok\n'
	start_proxy -- "$@" -t 5 "$PORT"
	client "send=$(connect_req "many.test:$PORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log --target "many.test:$PORT" --addr "${ADDRS[$i]}:$PORT" 0 3 eof
	only_target "$i"
	no_dns_query
}

@test "a name whose one allowed address comes after 20 denied ones connects to it, and no denied one is reached" {
	many_through 148 20 -d 127.0.0.128/28 -d 127.0.0.144/30 -a 127.0.0.128/25
}

@test "a name on 20 allowed addresses connects to the first, and no other is reached" {
	many_through 147 0 -a 127.0.0.128/25
}

@test "of a name's allowed addresses the first 16 are tried: when all refuse, the 17th is not reached (502)" {
	many_hosts 144
	# Only the 17th listens; the port is closed on the first 16.
	start_target --addr 127.0.0.144 --wait-eof
	start_proxy -- -a 127.0.0.128/25 -t 5 "$TPORT"
	client "send=$(connect_req "many.test:$TPORT")" shut
	assert_refusal 502 connection_refused
	assert_exit 111
	assert_log "client=$(re "$CLOCAL") target=many\.test:$TPORT status=502 error=connection_refused"
	assert_target_untouched
	no_dns_query
}

# -------------------------------------- 5. -4 and -6: the family on the wire

# mapped_refused HOST: -6 refuses CONNECT HOST:PORT, HOST being or resolving to
# ::ffff:127.0.0.1: 403 rule family:-6, and the target on 127.0.0.1 gets no
# connection.
mapped_refused() {
	refused --target "$1:@PORT@" --extra ' addr=[::ffff:127.0.0.1]:@PORT@ rule=family:-6' 403 destination_ip_prohibited \
		"$(connect_req "$1:@PORT@")" -6 -a 127.0.0.1 -t 5 @PORT@
}

@test "-6 refuses [::ffff:127.0.0.1], which -a 127.0.0.1 would open: 403 rule family:-6, and no connection" {
	mapped_refused '[::ffff:127.0.0.1]'
}

@test "-6 refuses a name whose IPv6 address is ::ffff:127.0.0.1: 403 rule family:-6, and no connection" {
	private_hosts '::ffff:127.0.0.1	mapped.test'
	resolves_to mapped.test ::ffff:127.0.0.1
	mapped_refused mapped.test
	no_dns_query
}

@test "the socket of a tunnel to [::1] is IPV6_V6ONLY: it can never carry IPv4" {
	need_root
	start_target --addr ::1 --send 'ok\n' --wait-eof
	start_proxy -- -a ::1 -t 5 "$TPORT"
	hold_tunnel "[::1]:$TPORT" shut
	v6only "$DPID" "$TPORT"
	release
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log --host '[::1]' 0 3 eof
}

# ------------------------------------------------------ 6. -u, as root

@test "started as root with no -u, connectd runs its tunnel as nobody, no new privileges, seccomp on" {
	need_root
	start_target --send 'ok\n' --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	hold_tunnel "127.0.0.1:$TPORT" shut
	assert_user "$DPID" nobody
	assert_proc "$DPID" NoNewPrivs 1
	assert_proc "$DPID" Seccomp 2
	release
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log 0 3 eof
}

@test "started as root, connectd keeps no supplementary group (Groups: empty)" {
	need_root
	start_target --send 'ok\n' --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	hold_tunnel "127.0.0.1:$TPORT" shut
	assert_proc "$DPID" Groups ""
	release
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

@test "started as root, connectd becomes nobody before the client has sent a byte" {
	need_root
	local u end
	start_target --send 'ok\n' --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client_bg --timeout 20 "mark=$T/open" "waitfile=$T/go" "send=$(connect_req "127.0.0.1:$TPORT")" shut
	wait_file "$T/open" 10
	connectd_pid --running
	# Bounded: connectd has just been started; were it to drop only after
	# reading, it would wait here for a byte that does not come.
	u=$(id -u nobody)
	end=$(($(date +%s) + 5))
	until [ "$(proc_field "$DPID" Uid)" = "$u $u $u $u" ] || [ "$(date +%s)" -gt "$end" ]; do
		sleep 0.01
	done
	assert_user "$DPID" nobody
	release
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

@test "-u with another unprivileged user runs the tunnel as that user" {
	need_root
	local u
	for u in daemon bin sys www-data proxy; do
		[ "$(id -u "$u" 2>/dev/null)" ] && [ "$(id -u "$u")" != 0 ] &&
			[ "$(id -u "$u")" != "$(id -u nobody)" ] && break
		u=
	done
	[ -n "$u" ] || skip "no unprivileged user other than nobody in /etc/passwd"
	start_target --send 'ok\n' --wait-eof
	start_proxy -- -u "$u" -a 127.0.0.1 -t 5 "$TPORT"
	hold_tunnel "127.0.0.1:$TPORT" shut
	assert_user "$DPID" "$u"
	assert_proc "$DPID" NoNewPrivs 1
	assert_proc "$DPID" Seccomp 2
	release
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

# user_refused USER LOG_REGEX: as root, -u USER is exit 100 with the one log
# line LOG_REGEX; the client gets nothing, and the target nothing.
user_refused() {
	need_root
	start_target --wait-eof
	start_proxy -- -u "$1" -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_exit 100
	assert_log "$2"
	[ ! -s "$T/out" ] || { echo "the client got:"; od -c "$T/out" | head; return 1; }
	assert_target_untouched
}

@test "-u with an unknown user is exit 100 with one line, and the target gets nothing" {
	user_refused no_such_user_xyz 'connectd: -u: no such user: no_such_user_xyz'
}

@test "-u root is exit 100 with one line, and the target gets nothing" {
	user_refused root 'connectd: -u: [^:]+: root'
}

# ------------------------------------------- 7. tunnels under the sandbox

@test "under the sandbox a tunnel moves 1 MiB each way byte for byte, the client closing first" {
	local n=1048576
	start_target --echo
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	hold_tunnel "127.0.0.1:$TPORT" "stream=$n" shut
	assert_proc "$DPID" Seccomp 2
	release
	assert_client_end eof
	assert_200_first
	assert_exit 0
	[ "$(info tx)" = "$n" ]
	[ "$(info rx)" = "$n" ]
	[ "$(info rxsha)" = "$("$PY" "$HARNESS" streamsha "$n")" ]
	assert_tunnel_log "$n" "$n" eof
}

@test "under the sandbox the target's EOF passes on and the client can still send after it" {
	start_target --send 'bye\n'
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	hold_tunnel "127.0.0.1:$TPORT" waiteof "send=after the target's EOF" shut
	assert_proc "$DPID" Seccomp 2
	release
	assert_out "${OK200}bye"$'\n'
	assert_exit 0
	target_done
	[ "$(cat "$TDIR/rx.1")" = "after the target's EOF" ]
	assert_tunnel_log 22 4 eof
}

@test "under the sandbox an idle tunnel ends after -i with end=idle and exit 0" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 -i 2 "$TPORT"
	hold_tunnel "127.0.0.1:$TPORT" waiteof
	assert_proc "$DPID" Seccomp 2
	release
	assert_out "$OK200"
	assert_client_end eof
	assert_exit 0
	assert_tunnel_log 0 0 idle
	between "$(log_field last secs)" 1.9 4.0 "the idle end after (s)"
}

# signal_sandboxed SIG: SIG to connectd mid-tunnel, under the sandbox, ends the
# tunnel with a close line end=signal and exit 111, and nothing is left.
signal_sandboxed() {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	hold_tunnel "127.0.0.1:$TPORT" send=late shut
	assert_proc "$DPID" Seccomp 2
	kill "-$1" "$DPID"
	assert_exit 111 # were the handler's return not allowed: signal31 (SIGSYS)
	release
	assert_tunnel_log 0 0 signal
	assert_gone
}

@test "under the sandbox SIGTERM mid-tunnel ends it with a close line end=signal and exit 111" {
	signal_sandboxed TERM
}

@test "under the sandbox SIGHUP mid-tunnel ends it with a close line end=signal and exit 111" {
	signal_sandboxed HUP
}
