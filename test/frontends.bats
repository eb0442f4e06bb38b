#!/usr/bin/env bats
# connectd behind the real front-ends of examples/, each run as it is in the
# private namespace of super.bash (the tests change only addresses, ports,
# certificate paths and connectd's arguments):
#   HAProxy (examples/haproxy.cfg) balancing two hosts, each connectd under
#     tcpserver (examples/run.tcpserver) with -H 127.0.0.1, one server line
#     with send-proxy-v2 and one with send-proxy, health checks on;
#   stunnel (examples/stunnel.conf) making connectd an HTTPS proxy for curl.
# Then the client naming that front-ends rely on, from the environment.

load lib
load super

N=$((1 << 20))

setup_file() {
	# One certificate for the file, valid for 127.0.0.1: the proxy's and the target's.
	make_cert
}

# ---------------------------------------------------------------- HAProxy

# start_host NAME [connectd arguments]: one host, connectd under tcpserver
# with examples/run.tcpserver as it is (on port 0), in the namespace; its
# output (tcpserver's lines and connectd's) in $T/NAME/err. Sets HOSTPORT.
start_host() {
	local dir=$T/$1
	shift
	mkdir -p "$dir"
	example_tcpserver "$@" >"$dir/run" || return 1
	bg_super "$dir/err" "$dir/run.err" sh "$dir/run"
	wait_listen "$SSPID" any 10 || { cat "$dir/err" "$dir/run.err"; return 1; }
	HOSTPORT=$LPORT
}

# example_haproxy PORT PORT1 PORT2: a global section of the test's own (a
# stats socket in $T), then examples/haproxy.cfg as it is, with 127.0.0.1 and
# these ports on bind and on the two server lines; fails if the example no
# longer has them.
example_haproxy() {
	local file=$TESTDIR/../examples/haproxy.cfg
	grep -Eq '^[[:space:]]+bind :3128$' "$file" &&
		grep -Eq '^[[:space:]]+server host1 192\.0\.2\.11:3128 send-proxy-v2$' "$file" &&
		grep -Eq '^[[:space:]]+server host2 192\.0\.2\.12:3128 send-proxy$' "$file" ||
		{ echo "examples/haproxy.cfg: no 'bind :3128', or not the two server lines" >&2; return 1; }
	printf 'global\n\tstats socket %s mode 600 level admin\n\n' "$T/haproxy/sock"
	sed -E "s/^([[:space:]]+bind) :3128$/\\1 127.0.0.1:$1/
		s/^([[:space:]]+server host1) 192\\.0\\.2\\.11:3128 /\\1 127.0.0.1:$2 /
		s/^([[:space:]]+server host2) 192\\.0\\.2\\.12:3128 /\\1 127.0.0.1:$3 /" "$file"
}

# start_haproxy PORT1 PORT2: HAProxy in the foreground in the namespace, on a
# port that was free. Sets: PPORT.
start_haproxy() {
	mkdir -p "$T/haproxy"
	on_free_port haproxy "$T/haproxy/err" haproxy_on "$@"
}

# haproxy_on PORT PORT1 PORT2: HAProxy on PORT, for start_haproxy.
haproxy_on() {
	example_haproxy "$@" >"$T/haproxy/haproxy.cfg" || return 1
	bg_super "$T/haproxy/out" "$T/haproxy/err" haproxy -db -f "$T/haproxy/haproxy.cfg"
}

# haproxy_server NAME: HAProxy's state of that server and its last check,
# from the stats socket: "UP L7OK", "DOWN L7RSP", ...
haproxy_server() {
	"$PY" - "$T/haproxy/sock" "$1" <<-'EOF'
		import csv, socket, sys
		s = socket.socket(socket.AF_UNIX)
		s.settimeout(5)
		s.connect(sys.argv[1])
		s.sendall(b"show stat\n")
		data = b""
		while True:
		    b = s.recv(65536)
		    if not b:
		        break
		    data += b
		rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
		for r in rows:
		    if r["svname"] == sys.argv[2]:
		        print(r["status"], r["check_status"])
	EOF
}

# wait_server NAME STATE [SECS]: poll (bounded) until haproxy_server NAME says STATE.
wait_server() {
	local end state
	end=$(($(date +%s%N) + ${3:-20} * 1000000000))
	until state=$(haproxy_server "$1") && [ "$state" = "$2" ]; do
		if [ "$(date +%s%N)" -gt "$end" ]; then
			echo "HAProxy's $1 is '$state', not '$2'; its log:"
			cat "$T/haproxy/err"
			return 1
		fi
		sleep 0.1
	done
}

# host_lines NAME: connectd's lines in that host's output (tcpserver's left out).
host_lines() {
	grep -v '^tcpserver: ' "$T/$1/err" || true
}

# accepted_from NAME PORT: tcpserver on that host accepted a connection from 127.0.0.1:PORT.
accepted_from() {
	grep -Eq "^tcpserver: ok [0-9]+ [^ ]* :127\\.0\\.0\\.1::$2\$" "$T/$1/err"
}

# balanced HOST2ARGS...: the target (N bytes each way), host1 with -H
# 127.0.0.1, host2 with these connectd arguments before the target's, and
# HAProxy in front of them.
balanced() {
	need haproxy
	need tcpserver
	ns_wrap
	start_target --bytes "$N"
	start_host host1 -H 127.0.0.1 -a 127.0.0.1 -t 5 -i 10 "$TPORT"
	H1=$HOSTPORT
	start_host host2 "$@" -a 127.0.0.1 -t 5 -i 10 "$TPORT"
	H2=$HOSTPORT
	start_haproxy "$H1" "$H2"
}

# check_lines NAME: the host served HAProxy's checks: at least one, each
# exactly the 403 for port 1, client= HAProxy's own connection to the host
# (tcpserver accepted it from that port), no via=.
check_lines() {
	local line n=0 re='^client=127\.0\.0\.1:([0-9]+) target=127\.0\.0\.1:1 status=403 error=http_request_denied$'
	while IFS= read -r line; do
		[[ $line =~ $re ]] || { echo "$1: not a check line: $line"; return 1; }
		accepted_from "$1" "${BASH_REMATCH[1]}" || { echo "$1: no connection from ${BASH_REMATCH[1]}: $line"; return 1; }
		n=$((n + 1))
	done < <(host_lines "$1")
	echo "$1: $n check(s)"
	[ "$n" -gt 0 ]
}

# tunnel_lines NAME: the host's two lines of its one tunnel to the target;
# checks that via= is a connection that tcpserver accepted, other than the
# client. Sets: TCLIENT (its client=) TVIA (its via=).
tunnel_lines() {
	grep " target=127\\.0\\.0\\.1:$TPORT " "$T/$1/err" >"$T/$1/tunnel" || true
	TCLIENT=$(field "$(head -n1 "$T/$1/tunnel")" client)
	TVIA=$(field "$(head -n1 "$T/$1/tunnel")" via)
	assert_tunnel_log --in "$T/$1/tunnel" --client "$TCLIENT via=$TVIA" "$N" "$N" eof
	[[ $TVIA =~ ^127\.0\.0\.1:[0-9]+$ ]] && [ "$TVIA" != "$TCLIENT" ]
	accepted_from "$1" "${TVIA##*:}" || { echo "$1: tcpserver accepted no connection from $TVIA"; return 1; }
}

# stream_ok INFO: that client's connection got exactly the 200 and the N bytes of the stream.
stream_ok() {
	local want
	want=$("$PY" "$HARNESS" streamsha "$N")
	grep -qx 'end=eof' "$1" && grep -qx "headlen=${#OK200}" "$1" && grep -qx "rx=$N" "$1" &&
		grep -qx "rxsha=$want" "$1" && grep -qx "tx=$N" "$1" ||
		{ echo "$1:"; cat "$1"; return 1; }
}

@test "HAProxy (examples/haproxy.cfg) before two hosts with -H 127.0.0.1: a tunnel through each server line, send-proxy-v2 and send-proxy, byte-exact both ways; client= the client, via= HAProxy" {
	balanced -H 127.0.0.1
	wait_server host1 "UP L7OK"
	wait_server host2 "UP L7OK"
	# The first tunnel stays open until the second is done, so that leastconn
	# gives the second to the other host.
	bg "$PY" "$HARNESS" client --port "$PPORT" --out "$T/out.1" --info "$T/info.1" --timeout 40 --stall 10 \
		"send=$(connect_req "127.0.0.1:$TPORT")" waithead "waitfile=$T/go" "stream=$N" shut
	wait_grep "$TDIR/events" '^accept n=1 ' 10
	client --timeout 30 --stall 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "stream=$N" shut
	: >"$T/go"
	wait_file "$T/info.1" 30
	stream_ok "$T/info"
	stream_ok "$T/info.1"
	target_done 1
	target_done 2
	[ "$(grep -c "^done n=[12] .* rx=$N rxsha=$("$PY" "$HARNESS" streamsha "$N") .* end=eof" "$TDIR/events")" -eq 2 ]
	# One tunnel on each host, each naming one of the two clients and HAProxy.
	tunnel_lines host1
	local c1=$TCLIENT
	tunnel_lines host2
	echo "host1: client=$c1; host2: client=$TCLIENT; the clients: $(info local) and $(sed -n 's/^local=//p' "$T/info.1")"
	[ "$c1" != "$TCLIENT" ]
	for c in "$c1" "$TCLIENT"; do
		[ "$c" = "$(info local)" ] || [ "$c" = "$(sed -n 's/^local=//p' "$T/info.1")" ]
	done
}

@test "HAProxy's health check (examples/haproxy.cfg) passes on both hosts: a 403 for port 1, logged as HAProxy's own connection, with a v2 LOCAL and a v1 header alike" {
	balanced -H 127.0.0.1
	wait_server host1 "UP L7OK"
	wait_server host2 "UP L7OK"
	wait_grep "$T/host1/err" 'target=127\.0\.0\.1:1 status=403' 10
	wait_grep "$T/host2/err" 'target=127\.0\.0\.1:1 status=403' 10
	stop_super
	check_lines host1
	check_lines host2
	assert_target_untouched
}

@test "HAProxy marks a host DOWN whose connectd lacks -H: its send-proxy header is a bad request (405), not the check's 403" {
	balanced
	wait_server host1 "UP L7OK"
	wait_server host2 "DOWN L7RSP"
	wait_grep "$T/host2/err" '^client=' 10
	local line re='^client=127\.0\.0\.1:[0-9]+ target=TCP4 status=405 error=http_request_error$'
	while IFS= read -r line; do
		[[ $line =~ $re ]] || { echo "host2: $line"; return 1; }
	done < <(host_lines host2)
	assert_target_untouched
}

# ---------------------------------------------------------------- stunnel

# example_stunnel PORT [connectd arguments]: examples/stunnel.conf as it is,
# with this port, the test's certificate and key, and these arguments; fails
# if the example no longer has those lines.
example_stunnel() {
	local port=$1 file=$TESTDIR/../examples/stunnel.conf
	shift
	grep -qx 'accept = 127.0.0.1:3129' "$file" && grep -qx 'exec = /usr/local/sbin/connectd' "$file" &&
		grep -Eqx 'execArgs = connectd( .*)?' "$file" && grep -Eqx 'cert = .+' "$file" &&
		grep -Eqx 'key = .+' "$file" ||
		{ echo "examples/stunnel.conf: no accept, exec, execArgs, cert or key line" >&2; return 1; }
	sed -E "s|^accept = 127\\.0\\.0\\.1:3129\$|accept = 127.0.0.1:$port|
		s|^cert = .*|cert = $CERT|
		s|^key = .*|key = $KEY|
		s|^execArgs = connectd.*|execArgs = connectd $(args_line "$@")|" "$file"
}

# start_stunnel [connectd arguments]: stunnel with the example, in the
# namespace, on a port that was free; its standard error (with connectd's
# lines) in $T/stunnel/err. Sets: PPORT.
start_stunnel() {
	mkdir -p "$T/stunnel"
	on_free_port stunnel "$T/stunnel/err" stunnel_on "$@"
}

# stunnel_on PORT [connectd arguments]: stunnel on PORT, for start_stunnel.
stunnel_on() {
	example_stunnel "$@" >"$T/stunnel/connectd.conf" || return 1
	bg_super "$T/stunnel/out" "$T/stunnel/err" stunnel "$T/stunnel/connectd.conf"
}

# curl_https ARGS...: curl through the HTTPS proxy (TLS to stunnel, the
# proxy's certificate checked), proxy settings of the environment ignored;
# body to $T/body, and "CONNECT-code code local-address" to $T/codes.
curl_https() {
	env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY -u no_proxy -u NO_PROXY \
		curl -sS --noproxy '' --max-time 30 --proxy "https://127.0.0.1:$PPORT" --proxy-cacert "$CERT" \
		--cacert "$CERT" -o "$T/body" -w '%{http_connect} %{http_code} %{local_ip}:%{local_port}' \
		"$@" >"$T/codes" 3>&-
}

# stunnel_ready: the programs, the namespace, the TLS target and stunnel
# with connectd allowed to reach it.
stunnel_ready() {
	need stunnel
	need curl
	need_cert
	ns_wrap
	start_tls http
	start_stunnel -a 127.0.0.1 -t 5 -i 20 "$TPORT"
}

@test "stunnel (examples/stunnel.conf) makes connectd an HTTPS proxy: curl --proxy https:// posts 1 MiB over TLS to a TLS target and gets it back; client= curl's address and port" {
	stunnel_ready
	head -c "$N" /dev/urandom >"$T/payload"
	local sha c
	sha=$(sha256sum <"$T/payload" | cut -d' ' -f1)
	curl_https --data-binary "@$T/payload" -H 'Content-Type: application/octet-stream' "https://127.0.0.1:$TPORT/echo"
	echo "curl: $(cat "$T/codes")"
	[[ $(cat "$T/codes") =~ ^200\ 200\ (127\.0\.0\.1:[0-9]+)$ ]]
	c=${BASH_REMATCH[1]}
	[ "$(sha256sum <"$T/body" | cut -d' ' -f1)" = "$sha" ]
	grep -q "^request POST /echo len=$N sha=$sha tls=TLSv1\\.[23]$" "$TDIR/events"
	# stunnel accepted curl's connection, and connectd names that client.
	wait_grep "$T/stunnel/err" "Service \\[connectd\\] accepted connection from $(re "$c")\$" 10
	wait_grep "$T/stunnel/err" "^client=.* end=" 10
	grep -E '(^| )client=|^connectd: ' "$T/stunnel/err" >"$T/lines"
	assert_tunnel_log --in "$T/lines" --client "$c" '[0-9]+' '[0-9]+' eof
	[ "$(field "$(tail -n1 "$T/lines")" up)" -gt "$N" ]
	[ "$(field "$(tail -n1 "$T/lines")" down)" -gt "$N" ]
}

# cloexec_pipes PID: the pipes that the process opened itself (O_CLOEXEC: none
# it inherited), one "fd flags" a line.
cloexec_pipes() {
	local f n flags
	for f in /proc/"$1"/fd/*; do
		n=${f##*/}
		[[ $(readlink "$f" 2>/dev/null) == pipe:* ]] || continue
		flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/$n" 2>/dev/null)
		[ -n "$flags" ] && (((8#$flags & 8#2000000) != 0)) && echo "$n $flags"
	done
}

@test "under stunnel, connectd's relay takes the splice path: stunnel's socket and the target are sockets, and connectd holds its two pipes per direction while the tunnel runs" {
	stunnel_ready
	local big=$((8 << 20)) pid p found=
	# 8 MiB at 2 MiB/s: a tunnel of about 4 seconds to look at.
	curl_https --limit-rate 2M "https://127.0.0.1:$TPORT/$big" &
	local curlpid=$!
	for _ in $(seq 300); do
		for p in $("$PY" "$SUPER" tree "$SSPID"); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = connectd ] || continue
			pid=$p
			if [ "$(cloexec_pipes "$p" | wc -l)" -eq 4 ]; then
				found=1
				echo "connectd $p: its pipes (fd flags):"
				cloexec_pipes "$p"
				echo "descriptors 0 and 1: $(readlink /proc/"$p"/fd/0) $(readlink /proc/"$p"/fd/1)"
				[[ $(readlink /proc/"$p"/fd/0) == socket:* && $(readlink /proc/"$p"/fd/1) == socket:* ]]
				break 2
			fi
		done
		sleep 0.02
	done
	wait "$curlpid"
	[ -n "$found" ] || { echo "no connectd with four pipes of its own (last seen: ${pid:-none})"; return 1; }
	[[ $(cat "$T/codes") =~ ^200\ 200\  ]]
	# The server's page of N bytes is the first N bytes of the stream.
	[ "$(sha256sum <"$T/body" | cut -d' ' -f1)" = "$("$PY" "$HARNESS" streamsha "$big")" ]
}

# ---------------------------------------------------------------- naming

@test "the client is REMOTE_HOST:REMOTE_PORT (stunnel) before getpeername: stunnel's own socket is on descriptor 0" {
	named --env REMOTE_HOST=192.0.2.8 --env REMOTE_PORT=4321
	[ "$NAME" = 192.0.2.8:4321 ]
}

@test "an IPv6 REMOTE_HOST with REMOTE_PORT is written in brackets" {
	named --env REMOTE_HOST=2001:db8::8 --env REMOTE_PORT=4321
	[ "$NAME" = '[2001:db8::8]:4321' ]
}

@test "the client is REMOTE_ADDR:REMOTE_PORT (systemd) before REMOTE_HOST:REMOTE_PORT" {
	named --env REMOTE_ADDR=192.0.2.9 --env REMOTE_PORT=4321 --env REMOTE_HOST=192.0.2.8
	[ "$NAME" = 192.0.2.9:4321 ]
}

@test "the client is TCPREMOTEIP:TCPREMOTEPORT with PROTO=TCP before REMOTE_ADDR:REMOTE_PORT" {
	named --env TCPREMOTEIP=192.0.2.7 --env TCPREMOTEPORT=1234 --env PROTO=TCP \
		--env REMOTE_ADDR=192.0.2.9 --env REMOTE_PORT=4321
	[ "$NAME" = 192.0.2.7:1234 ]
}

@test "REMOTE_PORT without an address, or REMOTE_ADDR without a port, names no client: getpeername does" {
	named --env REMOTE_PORT=4321
	[ "$NAME" = "$CLOCAL" ]
	named --env REMOTE_ADDR=192.0.2.9
	[ "$NAME" = "$CLOCAL" ]
}

@test "with pipes on 0 and 1, REMOTE_HOST with REMOTE_PORT names the client; REMOTE_HOST alone is the address alone" {
	named --pipes --env REMOTE_HOST=192.0.2.8 --env REMOTE_PORT=4321
	[ "$NAME" = 192.0.2.8:4321 ]
	named --pipes --env REMOTE_HOST=192.0.2.8
	[ "$NAME" = 192.0.2.8 ]
}

@test "a REMOTE_PORT with a space or a newline stays inside its field" {
	named --env REMOTE_HOST=192.0.2.8 --env $'REMOTE_PORT=1 status=200\nx'
	[ "$NAME" = '192.0.2.8:1\x20status=200\x0ax' ]
}
