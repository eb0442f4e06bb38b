#!/usr/bin/env bats
# The request head: its deadline, its limits, and every way it can be malformed.
# Each refusal is checked byte for byte, with its exit status and log line, and the
# target must have got no connection.

load lib

H='Host: x\r\n'

# bad400 REQUEST: the request gets 400 http_request_error and nothing else.
bad400() {
	refused 400 http_request_error "$1"
}

# target400 AUTHORITY: CONNECT AUTHORITY gets 400 and the log names it as sent.
target400() {
	refused --target "$1" 400 http_request_error "CONNECT $1 HTTP/1.1\\r\\n$H\\r\\n"
}

@test "a client that sends nothing gets 408 after -t seconds" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 1 "$TPORT"
	client --timeout 10 waiteof
	assert_refusal 408 http_request_error
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=- status=408 error=http_request_error"
	between "$(info t_first)" 0.9 3.0 "the 408 after (s)"
	assert_target_untouched
}

@test "a client that drips its head slowly gets 408 at -t seconds from the start" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 2 "$TPORT"
	client --timeout 15 "send=CONNECT 127.0.0.1:$TPORT HTTP/1.1\\r\\n${H}X-Slow: " drip=60:0.1 waiteof
	assert_refusal 408 http_request_error
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=408 error=http_request_error"
	between "$(info t_first)" 1.9 4.0 "the 408 after (s)"
	assert_target_untouched
	assert_gone
}

@test "a head completed in pieces before -t opens the tunnel" {
	start_target --send 'ok\n'
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=CONN" pause=0.2 "send=ECT 127.0.0.1:$TPORT HT" pause=0.2 "send=TP/1.1\\r\\nHo" pause=0.2 \
		"send=st: x\\r" pause=0.2 "send=\\n\\r" pause=0.2 "send=\\n" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log 0 3 eof
}

@test "a client that half-closes before its head is complete still gets a complete 400" {
	refused --target 127.0.0.1:@PORT@ 400 http_request_error "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n$H"
}

@test "GET gets 405 with Allow: CONNECT" {
	refused 405 http_request_error "GET http://127.0.0.1:@PORT@/ HTTP/1.1\\r\\n$H\\r\\n"
}

@test "a lowercase connect is another method: 405" {
	refused 405 http_request_error "connect 127.0.0.1:@PORT@ HTTP/1.1\\r\\n$H\\r\\n"
}

@test "a method that is not a token gets 400" {
	bad400 "CONN(ECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n$H\\r\\n"
}

@test "HTTP/2.0 gets 505" {
	refused 505 http_request_error "CONNECT 127.0.0.1:@PORT@ HTTP/2.0\\r\\n$H\\r\\n"
}

@test "HTTP/1.2 and HTTP/0.9 get 505" {
	refused 505 http_request_error "CONNECT 127.0.0.1:@PORT@ HTTP/1.2\\r\\n$H\\r\\n"
	refused 505 http_request_error "CONNECT 127.0.0.1:@PORT@ HTTP/0.9\\r\\n\\r\\n"
}

@test "a version that is not HTTP/d.d gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1\\r\\n$H\\r\\n"
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.10\\r\\n$H\\r\\n"
	bad400 "CONNECT 127.0.0.1:@PORT@ http/1.1\\r\\n$H\\r\\n"
}

@test "a bad request line is answered at once, without waiting for the end of the head" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 10 "$TPORT"
	client --timeout 8 "send=CONNECT 127.0.0.1:$TPORT HTTP/3.0\\r\\n" waiteof
	assert_refusal 505 http_request_error
	assert_client_end eof
	awk -v t="$(info t_first)" 'BEGIN { exit !(t < 2) }'
	assert_exit 111
	assert_target_untouched
}

@test "a request line with two spaces gets 400" {
	bad400 "CONNECT  127.0.0.1:@PORT@ HTTP/1.1\\r\\n$H\\r\\n"
}

@test "a request line without a version gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@\\r\\n$H\\r\\n"
}

@test "a request line with a fourth part gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1 x\\r\\n$H\\r\\n"
}

@test "a request line with a tab between its parts gets 400" {
	bad400 "CONNECT\\t127.0.0.1:@PORT@ HTTP/1.1\\r\\n$H\\r\\n"
}

@test "a target with userinfo gets 400" {
	target400 'user@127.0.0.1:@PORT@'
	target400 'user:pass@127.0.0.1:@PORT@'
}

@test "a target without a port gets 400" {
	target400 '127.0.0.1'
	target400 '127.0.0.1:'
	target400 '[::1]'
}

@test "port 0 in the target gets 400" {
	target400 '127.0.0.1:0'
}

@test "port 65536 in the target gets 400" {
	target400 '127.0.0.1:65536'
}

@test "port 99999999999 in the target gets 400" {
	target400 '127.0.0.1:99999999999'
}

@test "a port with a sign, a space or letters gets 400" {
	target400 '127.0.0.1:+443'
	target400 '127.0.0.1:44a'
	target400 '127.0.0.1:-1'
}

@test "127.1 gets 400" {
	target400 '127.1:@PORT@'
}

@test "2130706433 gets 400" {
	target400 '2130706433:@PORT@'
}

@test "0x7f000001 gets 400" {
	target400 '0x7f000001:@PORT@'
}

@test "0177.0.0.1 gets 400" {
	target400 '0177.0.0.1:@PORT@'
}

@test "0x7f.1, 127.0.0.010 and 1.2.3.256 get 400" {
	target400 '0x7f.1:@PORT@'
	target400 '127.0.0.010:@PORT@'
	target400 '1.2.3.256:@PORT@'
	target400 'host.123:@PORT@'
}

@test "an IPv6 zone id gets 400" {
	target400 '[fe80::1%25eth0]:@PORT@'
	target400 '[::1%lo]:@PORT@'
}

@test "an IPv6 address without brackets, or an IPv4 one within them, gets 400" {
	target400 '::1:@PORT@'
	target400 '[127.0.0.1]:@PORT@'
	target400 '[::1:@PORT@'
	target400 '[nothex::1]:@PORT@'
}

@test "an empty host gets 400" {
	target400 ':@PORT@'
}

@test "a name longer than 253 characters or with a 64-character label gets 400" {
	local l63 name
	l63=$(repeat a 63)
	name=$l63.$l63.$l63.${l63:1} # 254 characters
	[ ${#name} -eq 254 ]
	# The log cuts the target at 255 bytes.
	refused --target "${name}:..." 400 http_request_error "CONNECT $name:443 HTTP/1.1\\r\\n$H\\r\\n"
	target400 "$(repeat a 64).example:443"
}

@test "a name with a character outside letters, digits, - and _ gets 400" {
	target400 'a$b.example:443'
	target400 'a..b:443'
	target400 'a,b:443'
}

@test "a header line without a colon gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}NoColon\\r\\n\\r\\n"
}

@test "a space before a header's colon gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\nHost : x\\r\\n\\r\\n"
}

@test "an empty or non-token header name gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n$H: x\\r\\n\\r\\n"
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}X(y): z\\r\\n\\r\\n"
}

@test "an obs-fold continuation line gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}X-A: b\\r\\n c\\r\\n\\r\\n"
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}X-A: b\\r\\n\\tc\\r\\n\\r\\n"
}

@test "a bare CR gets 400, in the request line or in a header" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\rX\\r\\n$H\\r\\n"
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\nHost: a\\rb\\r\\n\\r\\n"
}

@test "a NUL gets 400, in the request line or in a header" {
	bad400 "CONNECT 127.0.0.1:@PORT@\\x00 HTTP/1.1\\r\\n$H\\r\\n"
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\nHost: a\\x00b\\r\\n\\r\\n"
}

@test "HTTP/1.1 without Host gets 400" {
	bad400 'CONNECT 127.0.0.1:@PORT@ HTTP/1.1\r\nX-A: b\r\n\r\n'
}

@test "HTTP/1.1 with two Host fields gets 400, whatever their case" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}Host: y\\r\\n\\r\\n"
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}HOST: x\\r\\n\\r\\n"
}

@test "HTTP/1.0 with two Host fields gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.0\\r\\n${H}host: x\\r\\n\\r\\n"
}

@test "a Content-Length field gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}Content-Length: 0\\r\\n\\r\\n"
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}content-length: 5\\r\\n\\r\\nhello"
}

@test "a Transfer-Encoding field gets 400" {
	bad400 "CONNECT 127.0.0.1:@PORT@ HTTP/1.1\\r\\n${H}Transfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n"
}

@test "HTTP/1.0 without Host is accepted" {
	accepted 'CONNECT 127.0.0.1:@PORT@ HTTP/1.0\r\n\r\n'
}

@test "HTTP/1.0 with one Host is accepted" {
	accepted "CONNECT 127.0.0.1:@PORT@ HTTP/1.0\\r\\n$H\\r\\n"
}

@test "bare LF line ends are accepted" {
	accepted 'CONNECT 127.0.0.1:@PORT@ HTTP/1.1\nHost: x\nUser-Agent: t\n\n'
}

@test "empty lines before the request line are ignored" {
	accepted '\r\n\nCONNECT 127.0.0.1:@PORT@ HTTP/1.1\r\nHost: x\r\n\r\n'
}

@test "other header fields, and a Host that differs from the target, are accepted" {
	accepted 'CONNECT 127.0.0.1:@PORT@ HTTP/1.1\r\nUser-Agent: curl/8\r\nHost: elsewhere.example:1\r\nProxy-Connection: keep-alive\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n'
}

# head_file SIZE [FIELDS]: a request head of exactly SIZE bytes in $T/head, with
# Host and padding fields (FIELDS header lines in all, default 2).
head_file() {
	local size=$1 fields=${2:-2} i pre pad
	printf -v pre 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n' "$TPORT"
	for ((i = 3; i <= fields; i++)); do
		printf -v pad 'X-%d: y\r\n' "$i"
		pre+=$pad
	done
	pre+='X-Pad: '
	pad=$((size - ${#pre} - 4))
	{
		printf '%s' "$pre"
		head -c "$pad" /dev/zero | tr '\0' a
		printf '\r\n\r\n'
	} >"$T/head"
	[ "$(wc -c <"$T/head")" -eq "$size" ]
}

@test "a head of exactly 8192 bytes is accepted, and what follows it is tunnel bytes" {
	start_target --wait-eof --reply 'ok\n'
	head_file 8192
	printf 'after the head' >>"$T/head"
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "sendfile=$T/head" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log 14 3 eof
	target_done
	[ "$(cat "$TDIR/rx.1")" = 'after the head' ]
}

@test "a head of 8193 bytes gets 431" {
	start_target --wait-eof
	head_file 8193
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "sendfile=$T/head" shut
	assert_refusal 431 http_request_error
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=431 error=http_request_error"
	assert_target_untouched
}

@test "a head that never ends gets 431 once it passes 8192 bytes, before -t" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 10 "$TPORT"
	client --timeout 8 "send=CONNECT 127.0.0.1:$TPORT HTTP/1.1\\r\\n${H}X-Pad: " \
		"send=$(head -c 9000 /dev/zero | tr '\0' a)" waiteof
	assert_refusal 431 http_request_error
	awk -v t="$(info t_first)" 'BEGIN { exit !(t < 5) }'
	assert_exit 1
	assert_target_untouched
}

@test "a refused client that is still sending sees the response and a clean close, not a reset" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 10 "$TPORT"
	client --timeout 8 "send=CONNECT 127.0.0.1:$TPORT HTTP/1.1\\r\\n${H}X-Pad: " \
		"send=$(head -c 30000 /dev/zero | tr '\0' a)" waiteof
	assert_refusal 431 http_request_error
	assert_client_end eof
	[ -z "$(info senderr)" ]
	assert_exit 1
}

@test "64 header lines are accepted" {
	start_target --send 'ok\n'
	head_file 4000 64
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "sendfile=$T/head" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

@test "65 header lines get 431" {
	start_target --wait-eof
	head_file 4000 65
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "sendfile=$T/head" shut
	assert_refusal 431 http_request_error
	assert_exit 1
	assert_target_untouched
}
