#!/usr/bin/env bats
# -H: connectd behind a load balancer that sends the PROXY protocol (versions
# 1 and 2). The test's client plays the balancer: it is on 127.0.0.1 (or ::1),
# in the -H network, and its first bytes are the header. Each rule is checked
# by what the client gets (the tunnel's bytes, or nothing at all), what the
# target gets (never a byte of the header), the exit status and the exact log
# lines: client= the header's source and via= the balancer, or the
# balancer alone for its own connections (a health check).

load lib

SIG='\r\n\r\n\x00\r\nQUIT\n'
# 198.51.100.7:51234 to 203.0.113.9:3128, and 2001:db8::7:51234 to 2001:db8::1:443
A4='\xc6\x33\x64\x07\xcb\x00\x71\x09\xc8\x22\x0c\x38'
A6='\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xc8\x22\x01\xbb'
# TLVs: a NOOP, a UNIQUE_ID, an empty one of the custom range (16 bytes)
TLVS='\x04\x00\x03xyz\x05\x00\x04abcd\xe0\x00\x00'
C4=198.51.100.7:51234
C6='[2001:db8::7]:51234'
F39=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff

# v2 VERCMD FAMPROTO BLOCK: a version 2 header (escaped) whose length field
# counts the block (escaped: addresses and TLVs).
v2() {
	local n
	n=$("$PY" -c 'import codecs, sys; print(len(codecs.escape_decode(sys.argv[1])[0]))' "$3")
	printf '%s\\x%02x\\x%02x\\x%02x\\x%02x%s' "$SIG" "$1" "$2" $((n >> 8)) $((n & 255)) "$3"
}

# target_host: the target's address as a request names it.
target_host() {
	if [ "$FAM" = 6 ]; then echo "[::1]"; else echo 127.0.0.1; fi
}

# through HEADER [connectd arguments]: under -H (the client's own address),
# HEADER, the request and "hello\n" in one write, then a half-close, to a
# target that echoes: the client gets exactly the 200 and "hello\n", the
# target exactly "hello\n" (no byte of the header), exit 0. The log is left
# to the test (see tunnel_logged).
through() {
	local hdr=$1 net=127.0.0.1 th
	shift
	[ "$FAM" = 6 ] && net=::1
	th=$(target_host)
	start_target --echo
	start_proxy -- -H "$net" -a "$net" -t 5 "$@" "$TPORT"
	client "send=$hdr$(connect_req "$th:$TPORT")hello\\n" shut
	assert_out "${OK200}hello"$'\n'
	assert_exit 0
	target_done
	printf 'hello\n' | cmp - "$TDIR/rx.1"
}

# tunnel_logged CLIENT: the tunnel's two lines name the client so (the text
# after client=, via= and all), "hello\n" each way.
tunnel_logged() {
	local th
	th=$(target_host)
	assert_tunnel_log --client "$1" --host "$th" 6 6 eof
}

# dropped ERROR [connectd arguments] -- STEP...: the client's steps (then
# reading to EOF) get no byte back; exit 1; the one log line is
# "client=C target=- status=- error=ERROR", C the balancer; no connection to
# the target.
dropped() {
	local error=$1 args=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	start_target --wait-eof
	start_proxy -- "${args[@]}" -a 127.0.0.1 "$TPORT"
	client --timeout 15 "$@"
	if [ -s "$T/out" ]; then
		echo "the client got an answer:"
		od -c "$T/out" | head
		return 1
	fi
	assert_client_end eof
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=- status=- error=$error"
	assert_target_untouched
}

@test "-H: a v1 TCP4 header and the request in one write name the header's client, via= the balancer; byte-exact both ways" {
	through "PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\r\\n"
	tunnel_logged "$C4 via=$CLOCAL"
}

@test "-H: a v1 TCP6 header names the client in brackets" {
	through "PROXY TCP6 2001:db8::7 2001:db8::1 51234 443\\r\\n"
	tunnel_logged "$C6 via=$CLOCAL"
}

@test "-H ::1: a balancer on IPv6 is via=[::1]:port" {
	FAM=6
	through "PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\r\\n"
	[[ $CLOCAL == \[::1\]:* ]]
	tunnel_logged "$C4 via=$CLOCAL"
}

@test "-H: v1 UNKNOWN is the balancer's own connection: client= the balancer, no via=" {
	through 'PROXY UNKNOWN\r\n'
	tunnel_logged "$CLOCAL"
}

@test "-H: v1 UNKNOWN at the longest line, 107 bytes with its CRLF, is taken" {
	through "PROXY UNKNOWN $F39 $F39 65535 65535\\r\\n"
	tunnel_logged "$CLOCAL"
}

@test "-H: a v1 header that names the balancer's own address and port (a v1 health check) is the balancer's own" {
	start_target --echo
	start_proxy -- -H 127.0.0.1 -a 127.0.0.1 -t 5 "$TPORT"
	# The header is written once the client has its port (info.local), then sent.
	# shellcheck disable=SC2016
	bg bash -c 'for i in $(seq 1000); do [ -s "$1" ] && break; sleep 0.01; done
		l=$(cat "$1") && printf "PROXY TCP4 127.0.0.1 127.0.0.1 %s %s\r\n" "${l##*:}" "$2" >"$3.tmp" &&
		mv "$3.tmp" "$3"' sh "$T/info.local" "$PPORT" "$T/hdr"
	client "waitfile=$T/hdr" "sendfile=$T/hdr" "send=$(connect_req "127.0.0.1:$TPORT")hello\\n" shut
	grep -qx "PROXY TCP4 127.0.0.1 127.0.0.1 ${CLOCAL##*:} $PPORT"$'\r' "$T/hdr"
	assert_out "${OK200}hello"$'\n'
	assert_exit 0
	tunnel_logged "$CLOCAL"
}

@test "-H: a v2 TCP4 header names the header's client, via= the balancer" {
	through "$(v2 0x21 0x11 "$A4")"
	tunnel_logged "$C4 via=$CLOCAL"
}

@test "-H: a v2 TCP4 header with TLVs: its announced length is honoured, the TLVs skipped" {
	through "$(v2 0x21 0x11 "$A4$TLVS")"
	tunnel_logged "$C4 via=$CLOCAL"
}

@test "-H: a v2 TCP6 header names the client in brackets" {
	through "$(v2 0x21 0x21 "$A6")"
	tunnel_logged "$C6 via=$CLOCAL"
}

@test "-H: a v2 TCP6 header with TLVs: its announced length is honoured, the TLVs skipped" {
	through "$(v2 0x21 0x21 "$A6$TLVS")"
	tunnel_logged "$C6 via=$CLOCAL"
}

@test "-H: v2 LOCAL with dummy address bytes (as cloud balancers send) is the balancer's own" {
	through "$(v2 0x20 0x11 '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00')"
	tunnel_logged "$CLOCAL"
}

@test "-H: v2 LOCAL with real addresses and TLVs is still the balancer's own: the addresses are ignored" {
	through "$(v2 0x20 0x11 "$A4$TLVS")"
	tunnel_logged "$CLOCAL"
}

@test "-H: v2 PROXY of a family without a TCP client (UDP over IPv4) is the balancer's own" {
	through "$(v2 0x21 0x12 "$A4")"
	tunnel_logged "$CLOCAL"
}

# trickled HEADER: under -H 127.0.0.1, HEADER written one byte at a time, then
# the request and "hello\n": the tunnel opens, named for the header's client.
trickled() {
	start_target --echo
	start_proxy -- -H 127.0.0.1 -a 127.0.0.1 -t 10 "$TPORT"
	client --timeout 20 "trickle=0.02:$1" "send=$(connect_req "127.0.0.1:$TPORT")hello\\n" shut
	assert_out "${OK200}hello"$'\n'
	assert_exit 0
	tunnel_logged "$C4 via=$CLOCAL"
}

@test "-H: a v1 header written one byte at a time, then the request, opens the tunnel" {
	trickled 'PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\r\n'
}

@test "-H: a v2 header written one byte at a time, then the request, opens the tunnel" {
	trickled "$(v2 0x21 0x11 "$A4$TLVS")"
}

@test "-H: the header's client wins over the environment's, and via= is the peer itself, not the environment" {
	start_target --echo
	start_proxy --env PROTO=TCP --env TCPREMOTEIP=192.0.2.7 --env TCPREMOTEPORT=4321 -- \
		-H 127.0.0.1 -a 127.0.0.1 -t 5 "$TPORT"
	client "send=PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\r\\n$(connect_req "127.0.0.1:$TPORT")hello\\n" shut
	assert_out "${OK200}hello"$'\n'
	assert_exit 0
	tunnel_logged "$C4 via=$CLOCAL"
}

@test "-H: the trust of a peer is getpeername's alone: an environment that names a -H address does not make an untrusted peer trusted" {
	start_target --wait-eof
	start_proxy --env PROTO=TCP --env TCPREMOTEIP=10.1.2.3 --env TCPREMOTEPORT=4321 \
		--env REMOTE_ADDR=10.1.2.3 --env REMOTE_PORT=4321 -- -H 10.0.0.0/8 -a 127.0.0.1 -t 5 "$TPORT"
	client "send=PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\r\\n$(connect_req "127.0.0.1:$TPORT")" shut
	[ ! -s "$T/out" ]
	assert_exit 1
	assert_log "client=10\\.1\\.2\\.3:4321 target=- status=- error=proxy_peer_untrusted"
	assert_target_untouched
}

@test "-H: a refusal after the header is answered to the header's client and logged with via=" {
	start_target --wait-eof
	start_proxy -- -H 127.0.0.1 -a 127.0.0.1 -t 5
	client "send=PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\r\\n$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 http_request_denied
	assert_exit 1
	assert_log "client=$(re "$C4 via=$CLOCAL") target=127\\.0\\.0\\.1:$TPORT status=403 error=http_request_denied"
	assert_target_untouched
}

# header_dropped ERROR HEADER: under -H 127.0.0.1 (and -t 5), HEADER (escaped)
# and a request in one write, then a half-close: dropped with ERROR.
header_dropped() {
	dropped "$1" -H 127.0.0.1 -t 5 -- "send=$2$(connect_req 127.0.0.1:443)" shut
}

@test "-H: a v1 line that ends in a bare LF is closed without an answer: proxy_header_invalid" {
	header_dropped proxy_header_invalid "PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\n"
}

@test "-H: a v1 line over 107 bytes is closed without an answer: proxy_header_invalid" {
	header_dropped proxy_header_invalid "PROXY UNKNOWN $F39 $F39 65535 655355\\r\\n"
}

@test "-H: a v1 TCP4 header with a non-canonical address (a leading zero) is proxy_header_invalid" {
	header_dropped proxy_header_invalid "PROXY TCP4 198.51.100.07 203.0.113.9 51234 3128\\r\\n"
}

@test "-H: a bad v2 signature is no PROXY header: proxy_header_missing" {
	header_dropped proxy_header_missing "\\r\\n\\r\\n\\x00\\r\\nQUIT\\r\\x21\\x11\\x00\\x0c$A4"
}

@test "-H: a v2 header of version 1 is closed without an answer: proxy_header_invalid" {
	header_dropped proxy_header_invalid "$(v2 0x11 0x11 "$A4")"
}

@test "-H: a v2 header whose length is past the head's limit is proxy_header_invalid at once" {
	dropped proxy_header_invalid -H 127.0.0.1 -t 5 -- "send=$SIG\\x21\\x11\\xff\\xff$A4" waiteof
	local t
	t=$(info t_eof)
	echo "closed after ${t}s, -t being 5"
	awk -v t="$t" 'BEGIN { exit !(t < 3) }'
}

@test "-H: a v2 header cut short by the end of the connection is proxy_header_invalid" {
	dropped proxy_header_invalid -H 127.0.0.1 -t 5 -- "send=$SIG\\x21\\x11\\x00\\x0c\\xc6\\x33" shut
}

@test "-H: a request with no header at all is closed without an answer: proxy_header_missing" {
	header_dropped proxy_header_missing ''
}

@test "-H: a connection that sends nothing is closed at -t without a 408: proxy_header_missing" {
	dropped proxy_header_missing -H 127.0.0.1 -t 1 -- waiteof
	between "$(info t_eof)" 0.9 4.0 "closed after (s)"
}

@test "-H: a header not complete at -t is closed without a 408: proxy_header_invalid" {
	dropped proxy_header_invalid -H 127.0.0.1 -t 1 -- 'send=PROXY TCP4 198.51' waiteof
}

@test "-H: one -t deadline for the header and the request together, counted from the start" {
	start_target --wait-eof
	start_proxy -- -H 127.0.0.1 -a 127.0.0.1 -t 3 "$TPORT"
	# 15 bytes 0.15 s apart: the header is whole after 2.1 s; the request never is.
	client --timeout 15 'trickle=0.15:PROXY UNKNOWN\r\n' "send=CONNECT 127.0.0.1:$TPORT HTTP/1.1\\r\\n" waiteof
	assert_refusal 408 http_request_error
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=127\\.0\\.0\\.1:$TPORT status=408 error=http_request_error"
	# A deadline restarted after the header would give over 5.
	between "$(info t_first)" 2.9 4.0 "the 408 after (s)"
	assert_target_untouched
}

@test "-H: a peer outside every -H network is closed without an answer, even with a valid header: proxy_peer_untrusted" {
	dropped proxy_peer_untrusted -H 10.0.0.0/8 -H ::1 -t 5 -- \
		"send=PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\r\\n$(connect_req 127.0.0.1:443)" shut
}

@test "-H: a peer that is no IP socket (pipes on 0 and 1) is untrusted, whatever the environment says" {
	start_target --wait-eof
	start_proxy --pipes --env PROTO=TCP --env TCPREMOTEIP=127.0.0.1 --env TCPREMOTEPORT=4321 -- \
		-H 127.0.0.1 -a 127.0.0.1 -t 5 "$TPORT"
	client "send=PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\r\\n$(connect_req "127.0.0.1:$TPORT")" shut
	[ ! -s "$T/out" ]
	assert_exit 1
	assert_log "client=127\\.0\\.0\\.1:4321 target=- status=- error=proxy_peer_untrusted"
	assert_target_untouched
}

@test "-H: the header counts toward the head's 8192 bytes: header and head of 8192 open the tunnel, 8193 get 431" {
	local hdr='PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\r\n' n pad
	start_target --send 'ok\n'
	start_proxy -- -H 127.0.0.1 -a 127.0.0.1 -t 5 "$TPORT"
	# 48 bytes of header; the head is the request line, Host, X: padding, the blank line.
	n=$((8192 - 48 - 54 - ${#TPORT} * 2))
	pad=$(head -c "$n" /dev/zero | tr '\0' a)
	printf "%bCONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nX: %s\r\n\r\n" "$hdr" "$TPORT" "$TPORT" "$pad" >"$T/req"
	[ "$(wc -c <"$T/req")" -eq 8192 ]
	client "sendfile=$T/req" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	start_proxy -- -H 127.0.0.1 -a 127.0.0.1 -t 5 "$TPORT"
	printf "%bCONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nX: a%s\r\n\r\n" "$hdr" "$TPORT" "$TPORT" "$pad" >"$T/req"
	[ "$(wc -c <"$T/req")" -eq 8193 ]
	client "sendfile=$T/req" shut
	assert_refusal 431 http_request_error
	assert_exit 1
	assert_log "client=$(re "$C4 via=$CLOCAL") target=127\\.0\\.0\\.1:$TPORT status=431 error=http_request_error"
}

@test "without -H, a v1 PROXY line is an ordinary bad request: 405, nothing reaches the target" {
	refused --target TCP4 405 http_request_error \
		"PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\\r\\n$(connect_req 127.0.0.1:@PORT@)"
}

@test "without -H, a v2 PROXY header is an ordinary bad request: 400, nothing reaches the target" {
	refused --target - 400 http_request_error "$(v2 0x21 0x11 "$A4")$(connect_req 127.0.0.1:@PORT@)"
}

@test "-H takes the networks of -a: a bad one, or a 17th, is a usage error that names it" {
	run "$CONNECTD" -l stderr -H 10.0.0.0/33 </dev/null
	[ "$status" -eq 100 ]
	[ "$output" = "connectd: -H: bad address or network: 10.0.0.0/33" ]
	run "$CONNECTD" -l stderr -H example.com </dev/null
	[ "$status" -eq 100 ]
	[ "$output" = "connectd: -H: bad address or network: example.com" ]
	local args=() i
	for i in $(seq 1 17); do
		args+=(-H "10.0.$i.0/24")
	done
	run "$CONNECTD" -l stderr "${args[@]}" </dev/null
	[ "$status" -eq 100 ]
	[ "$output" = "connectd: -H: too many networks: 10.0.17.0/24" ]
	run "$CONNECTD" -l stderr -H
	[ "$status" -eq 100 ]
	[ "$output" = "connectd: -H: needs an argument; $USAGE" ]
}
