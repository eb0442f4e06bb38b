#!/usr/bin/env bats
# Target name rules: -A and -D patterns (example.com, .example.com,
# *.example.com), checked after the port and before any DNS lookup, first
# match deciding; a name on no list refused when some -A and no -a was given;
# then the addresses, with the default opened for a name an -A rule allowed.
#
# Names resolve in a private mount namespace (private_dns): an /etc/hosts of
# the test's own and a DNS stub on 127.53.x.y that logs every query, so that
# "no lookup" is checked by counting queries for a name that is not in that
# /etc/hosts. Addresses other than loopback (192.0.2.1, 10.1.2.3) exist only
# in a network namespace of the test's own (private_net), where connectd and
# the targets run; nothing reaches any other network.

load lib

# ------------------------------------------------------------------ helpers

# hosts LINE...: private_dns (a stub that answers NXDOMAIN and logs each
# query), with these lines added to its /etc/hosts.
hosts() {
	private_dns nxdomain
	printf '%s\n' "$@" >>"$T/etc/hosts"
}

# no_query NAME...: the stub was asked nothing, and no NAME is in the private
# /etc/hosts (so that a lookup of it would have reached the stub).
no_query() {
	local n
	for n; do
		if grep -qiF -- "$n" "$T/etc/hosts"; then
			echo "$n is in the private /etc/hosts: a lookup would not show"
			return 1
		fi
	done
	no_dns_query
}

# name_refused HOST RULE CONNECTD-ARGS...: with a target listening on
# 127.0.0.1, CONNECT HOST:PORT through connectd with these arguments, -t 5 and
# the port is refused by the name rules: exactly a 403 http_request_denied
# whose details say so, exit 1, exactly one log line ending rule=RULE, no
# connection to the target, and no DNS query.
name_refused() {
	local host=$1 rule=$2
	shift 2
	start_target --wait-eof
	start_proxy -- "$@" -t 5 "$TPORT"
	client "send=$(connect_req "$host:$TPORT")" shut
	assert_refusal 403 http_request_denied
	grep -q '^Proxy-Status: connectd; error=http_request_denied; details="host name not allowed"'$'\r''$' "$T/out"
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=$(re "$host:$TPORT") status=403 error=http_request_denied rule=$(re "$rule")"
	assert_target_untouched
	no_query "$host"
}

# tunnel HOST ADDR CONNECTD-ARGS...: with a target on ADDR (127.0.0.1, or
# an address of private_net), CONNECT HOST:PORT with these arguments, -t 5
# and the port opens a tunnel to it: exactly the 200, bytes both ways, exit 0,
# the two log lines naming ADDR:PORT, one connection.
tunnel() {
	local host=$1 addr=$2
	shift 2
	start_target --addr "$addr" --send 'down\n' --wait-eof
	start_proxy -- "$@" -t 5 "$TPORT"
	client "send=$(connect_req "$host:$TPORT")up" shut
	assert_out "${OK200}down"$'\n'
	assert_exit 0
	assert_tunnel_log --target "$host:$TPORT" --addr "$addr:$TPORT" 2 5 eof
	target_done
	[ "$(cat "$TDIR/rx.1")" = up ]
	stop_target
	[ "$TACCEPTS" = 1 ]
}

# addr_refused HOST ADDR RULE CONNECTD-ARGS...: CONNECT HOST:$TPORT (a target
# already started) gets 403 destination_ip_prohibited naming ADDR:$TPORT and
# RULE, exit 1, one log line, and the target gets no connection.
addr_refused() {
	local host=$1 addr=$2 rule=$3
	shift 3
	start_proxy -- "$@" -t 5 "$TPORT"
	client "send=$(connect_req "$host:$TPORT")" shut
	assert_refusal 403 destination_ip_prohibited
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=$(re "$host:$TPORT") status=403 error=destination_ip_prohibited addr=$(re "$addr:$TPORT") rule=$(re "$rule")"
	assert_target_untouched
}

# labels N LEN: N bytes of labels of 'a' at most LEN long, joined by dots.
labels() {
	local n=$1 len=$2 s='' i
	for ((i = 0; i < n; i++)); do
		if (((i + 1) % (len + 1) == 0)); then s+=.; else s+=a; fi
	done
	printf '%s' "$s"
}

# pattern_accepted ARG...: connectd takes these arguments and goes on to the
# next, -c 0, the usage error it gives.
pattern_accepted() {
	run "$CONNECTD" -l stderr "$@" -c 0
	[ "$output" = 'connectd: -c: not a number of seconds in 1..3600: 0' ]
}

# egress_args: the connectd arguments of examples/egress.tcpserver, one a line.
egress_args() {
	sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$TESTDIR/../examples/egress.tcpserver" |
		sed -n 's|^.*/usr/local/sbin/connectd ||p' | tr -s ' \t' '\n\n' | sed '/^$/d'
}

# ------------------------------------------------ patterns, checked at start

@test "-A * and -A *. are usage errors naming them" {
	usage_error 'connectd: -A: a * other than a leading *.: *' -A '*'
	usage_error 'connectd: -A: an empty name: *.' -A '*.'
}

@test "-A a*.b is a usage error naming it: a * only as the leading *." {
	usage_error 'connectd: -A: a * other than a leading *.: a*.b' -A 'a*.b'
	usage_error 'connectd: -D: a * other than a leading *.: *.*.b' -a 127.0.0.1 -D '*.*.b'
}

@test "-D a..b is a usage error naming it: an empty label" {
	usage_error 'connectd: -D: an empty label: a..b' -D a..b
	usage_error 'connectd: -A: an empty label: ..b' -A ..b
	usage_error 'connectd: -A: an empty label: b..' -A b..
}

@test "an IP address is not a name: -A 127.0.0.1, -D .10.0.0.1 and -A 0x7f000001 are usage errors" {
	usage_error 'connectd: -A: an IP address, not a name: 127.0.0.1' -A 127.0.0.1
	usage_error 'connectd: -D: an IP address, not a name: .10.0.0.1' -D .10.0.0.1
	usage_error 'connectd: -A: an IP address, not a name: 0x7f000001' -A 0x7f000001
	usage_error 'connectd: -A: an IP address, not a name: example.123' -A example.123
	usage_error 'connectd: -A: a character other than a letter, digit, hyphen or dot: ::1' -A ::1
}

@test "an empty -A or -D is a usage error" {
	usage_error 'connectd: -A: an empty name: ' -A ''
	usage_error 'connectd: -D: an empty name: .' -D .
}

@test "a label of 64 bytes in a pattern is a usage error; 63 is accepted" {
	local l64 l63
	l64=$(labels 64 64) l63=$(labels 63 63)
	usage_error "connectd: -A: a label longer than 63: *.$l64.example" -A "*.$l64.example"
	pattern_accepted -A "*.$l63.example"
}

@test "a pattern name of 254 bytes is a usage error; 253 and a final dot are accepted" {
	local n254 n253
	n254=$(labels 254 63) n253=$(labels 253 63)
	usage_error "connectd: -D: a name longer than 253: .$n254" -D ".$n254"
	pattern_accepted -D "*.$n253."
}

@test "a non-ASCII pattern is a usage error, escaped in its one line" {
	usage_error 'connectd: -A: a character other than a letter, digit, hyphen or dot: b\xc3\xbccher.example' \
		-A $'b\xc3\xbccher.example'
	usage_error 'connectd: -D: a character other than a letter, digit, hyphen or dot: a\x0ab.example' \
		-D $'a\nb.example'
}

@test "-A and -D without an argument are usage errors with the usage" {
	usage_error "connectd: -A: needs an argument; $USAGE" -a 127.0.0.1 -A
	usage_error "connectd: -D: needs an argument; $USAGE" -D
}

@test "256 name rules are accepted and the last one decides; a 257th is a usage error" {
	local args=() i
	for ((i = 1; i <= 256; i++)); do args+=(-A "h$i.test"); done
	usage_error 'connectd: -D: too many name rules: one.more' "${args[@]}" -D one.more
	hosts '127.0.0.1	h256.test'
	tunnel H256.Test 127.0.0.1 -a 127.0.0.1 "${args[@]}"
}

@test "a usage error in a name rule reads nothing from a client socket and sends it nothing" {
	unread_usage_error 'connectd: -A: a * other than a leading *.: *' -a 127.0.0.1 -A '*' @PORT@
}

# ------------------------------------------------ refused before any lookup

@test "a name denied by -D gets 403 rule=deny-name:PATTERN and causes no DNS query" {
	hosts
	name_refused www.bad.test deny-name:.bad.test -D .bad.test
}

@test "a name on no list, with -A and no -a, gets 403 rule=default-deny and causes no DNS query" {
	hosts
	name_refused other.test default-deny -A .good.test
}

@test "with -A and -a, a name on no list is looked up: the stub sees the query (so the counts above count)" {
	hosts
	refused --target other.test:@PORT@ 502 dns_error \
		"$(connect_req 'other.test:@PORT@')" -A .good.test -a 127.0.0.1 -t 5 @PORT@
	grep -q '^query other\.test ' "$T/dns/queries" ||
		{ echo "the stub saw:"; cat "$T/dns/queries"; return 1; }
}

@test "the port is checked before the name rules: no rule= in the log and no DNS query" {
	hosts
	start_target --wait-eof
	start_proxy -- -D .bad.test -t 5 1
	client "send=$(connect_req "www.bad.test:$TPORT")" shut
	assert_refusal 403 http_request_denied
	grep -q 'details="port not allowed"' "$T/out"
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=www\.bad\.test:$TPORT status=403 error=http_request_denied"
	assert_target_untouched
	no_query www.bad.test
}

@test "-D .bad.example before -A .example refuses www.bad.example by the -D rule, before any lookup" {
	hosts '127.0.0.1	www.good.example'
	name_refused www.bad.example deny-name:.bad.example -D .bad.example -A .example -a 127.0.0.1
}

@test "-A .example before -D .bad.example lets www.bad.example through: the first match decides" {
	hosts '127.0.0.1	www.bad.example'
	tunnel www.bad.example 127.0.0.1 -A .example -D .bad.example -a 127.0.0.1
}

@test "matching ignores ASCII case and one final dot on both sides; the log names the pattern as given" {
	hosts
	name_refused WWW.BAD.example. deny-name:.Bad.Example. -D .Bad.Example.
}

@test "a name in capitals with a final dot that -A allows goes on to the lookup, as written" {
	hosts
	refused --target WWW.Example.TEST.:@PORT@ 502 dns_error \
		"$(connect_req 'WWW.Example.TEST.:@PORT@')" -A .example.test -t 5 @PORT@
	grep -q '^query WWW\.Example\.TEST ' "$T/dns/queries" ||
		{ echo "the stub saw:"; cat "$T/dns/queries"; return 1; }
}

@test "label boundaries: -A .example.test refuses notexample.test before any lookup" {
	hosts '127.0.0.1	example.test'
	name_refused notexample.test default-deny -A .example.test
}

@test "label boundaries: -A .example.test refuses example.test.evil.test before any lookup" {
	hosts '127.0.0.1	example.test'
	name_refused example.test.evil.test default-deny -A .example.test
}

@test "-A *.example.test does not match example.test itself: a later -D .example.test refuses it" {
	hosts
	name_refused example.test deny-name:.example.test -A '*.example.test' -D .example.test
}

@test "-A *.example.test matches a name under it: the tunnel opens" {
	hosts '127.0.0.1	a.b.example.test'
	tunnel a.b.example.test 127.0.0.1 -A '*.example.test' -D .example.test -a 127.0.0.1
}

@test "punycode is ASCII and matches as written" {
	hosts '127.0.0.1	xn--bcher-kva.test'
	tunnel XN--BCHER-kva.test 127.0.0.1 -A xn--bcher-kva.test -a 127.0.0.1
}

@test "a non-ASCII target name is refused by the parser (400), whatever the name rules" {
	hosts
	refused --target 'b\xc3\xbccher.test:@PORT@' 400 http_request_error \
		'CONNECT b\xc3\xbccher.test:@PORT@ HTTP/1.1\r\nHost: x\r\n\r\n' -A .test -a 127.0.0.1 -t 5 @PORT@
	no_query cher.test
}

# ------------------------------------------------ then the addresses

@test "-A localhost alone is 403: its addresses are loopback (builtin:loopback)" {
	hosts
	start_target --wait-eof
	start_proxy -- -A localhost -t 5 "$TPORT"
	client "send=$(connect_req "localhost:$TPORT")" shut
	assert_refusal 403 destination_ip_prohibited
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=localhost:$TPORT status=403 error=destination_ip_prohibited addr=(127\.0\.0\.1|\[::1\]):$TPORT rule=builtin:loopback"
	assert_target_untouched
	no_dns_query
}

@test "-a 127.0.0.1 -A localhost opens a tunnel to 127.0.0.1" {
	hosts
	tunnel localhost 127.0.0.1 -a 127.0.0.1 -A localhost
	no_dns_query
}

@test "a name allowed by -A reaches an address that no rule matches" {
	hosts '192.0.2.1	pub.test'
	private_net 192.0.2.1/32
	tunnel pub.test 192.0.2.1 -A pub.test
}

@test "without -A, -a alone denies that address by default" {
	hosts '192.0.2.1	pub.test'
	private_net 192.0.2.1/32
	start_target --addr 192.0.2.1 --wait-eof
	addr_refused pub.test 192.0.2.1 default-deny -a 10.0.0.0/8
}

@test "with only -D rules, a name on no list is judged by its addresses as before (allowed)" {
	hosts '192.0.2.1	pub.test'
	private_net 192.0.2.1/32
	tunnel pub.test 192.0.2.1 -D .bad.test
}

@test "a name allowed by -A whose address is in a -d network is refused by that rule" {
	hosts '10.1.2.3	inside.test'
	private_net 10.1.2.3/32
	start_target --addr 10.1.2.3 --wait-eof
	addr_refused inside.test 10.1.2.3 deny:10.0.0.0/8 -A inside.test -d 10.0.0.0/8
}

@test "an -a before the -d rule opens that address for an -A name" {
	hosts '10.1.2.3	inside.test'
	private_net 10.1.2.3/32
	tunnel inside.test 10.1.2.3 -A inside.test -a 10.1.2.3 -d 10.0.0.0/8
}

@test "a name allowed by -A with one denied and one allowed address connects only to the allowed one" {
	hosts '10.1.2.3	mixed.test' '192.0.2.1	mixed.test'
	private_net 10.1.2.3/32 192.0.2.1/32
	start_target --addr 10.1.2.3 --wait-eof
	local denied=$TDIR port=$TPORT
	start_target --addr 192.0.2.1 --port "$port" --send 'down\n' --wait-eof
	start_proxy -- -A mixed.test -d 10.0.0.0/8 -t 5 "$port"
	client "send=$(connect_req "mixed.test:$port")up" shut
	assert_out "${OK200}down"$'\n'
	assert_exit 0
	assert_tunnel_log --target "mixed.test:$port" --addr "192.0.2.1:$port" 2 5 eof
	target_done
	[ "$(cat "$TDIR/rx.1")" = up ]
	assert_target_untouched --dir "$denied"
}

@test "an IP address target with -A and no -a is 403 default-deny, and no connection" {
	private_net 192.0.2.1/32
	start_target --addr 192.0.2.1 --wait-eof
	addr_refused 192.0.2.1 192.0.2.1 default-deny -A pub.test
}

@test "an IP address target with -A is opened by -a; -D never matches an address" {
	private_net 192.0.2.1/32
	tunnel 192.0.2.1 192.0.2.1 -A pub.test -D .test -a 192.0.2.1
}

@test "-D localhost does not refuse 127.0.0.1: name rules judge names only" {
	tunnel 127.0.0.1 127.0.0.1 -D localhost -a 127.0.0.1
}

# ------------------------------------------------ the worked allow-list

# egress HOST ADDR: a target in the private network on ADDR port 443, and
# CONNECT HOST:443 through connectd with exactly the arguments of
# examples/egress.tcpserver.
egress() {
	local args
	mapfile -t args < <(egress_args)
	[ "${#args[@]}" -gt 4 ] && [ "${args[-1]}" = 443 ] || { echo "examples/egress.tcpserver: ${args[*]}"; return 1; }
	start_target --addr "$2" --port 443 --send 'down\n' --wait-eof
	start_proxy -- "${args[@]}"
	client "send=$(connect_req "$1:443")up" shut
}

egress_net() {
	hosts '192.0.2.10	github.com' '192.0.2.11	api.github.com' '192.0.2.12	objects.githubusercontent.com' \
		'192.0.2.13	deb.debian.org' '10.1.2.3	codeload.github.com' '127.0.0.1	raw.githubusercontent.com'
	private_net 192.0.2.10/32 192.0.2.11/32 192.0.2.12/32 192.0.2.13/32 10.1.2.3/32
}

@test "the worked allow-list of examples/ opens tunnels to GitHub and the mirror" {
	egress_net
	local h
	for h in github.com:192.0.2.10 API.GitHub.com:192.0.2.11 objects.githubusercontent.com:192.0.2.12 \
		deb.debian.org:192.0.2.13; do
		egress "${h%%:*}" "${h#*:}"
		assert_out "${OK200}down"$'\n'
		assert_exit 0
		assert_tunnel_log --target "${h%%:*}:443" --addr "${h#*:}:443" 2 5 eof
		stop_target
		[ "$TACCEPTS" = 1 ]
	done
}

@test "the worked allow-list refuses every other name before any lookup" {
	egress_net
	local h
	for h in example.org security.debian.org github.com.evil.test notgithub.com mirror.debian.org; do
		egress "$h" 192.0.2.10
		assert_refusal 403 http_request_denied
		assert_exit 1
		assert_log "client=$(re "$CLOCAL") target=$(re "$h"):443 status=403 error=http_request_denied rule=default-deny"
		assert_target_untouched
	done
	no_dns_query
}

@test "the worked allow-list refuses a GitHub name that resolves to a private or loopback address" {
	egress_net
	egress codeload.github.com 10.1.2.3
	assert_refusal 403 destination_ip_prohibited
	assert_log "client=$(re "$CLOCAL") target=codeload\.github\.com:443 status=403 error=destination_ip_prohibited addr=10\.1\.2\.3:443 rule=deny:10\.0\.0\.0/8"
	assert_target_untouched
	egress raw.githubusercontent.com 127.0.0.1
	assert_refusal 403 destination_ip_prohibited
	assert_log "client=$(re "$CLOCAL") target=raw\.githubusercontent\.com:443 status=403 error=destination_ip_prohibited addr=127\.0\.0\.1:443 rule=builtin:loopback"
	assert_target_untouched
}

@test "the worked allow-list refuses an IP address target, even GitHub's own address" {
	egress_net
	egress 192.0.2.10 192.0.2.10
	assert_refusal 403 destination_ip_prohibited
	assert_log "client=$(re "$CLOCAL") target=192\.0\.2\.10:443 status=403 error=destination_ip_prohibited addr=192\.0\.2\.10:443 rule=default-deny"
	assert_target_untouched
}
