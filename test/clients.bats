#!/usr/bin/env bats
# Real clients end to end: each opens a tunnel through connectd to a TLS server
# on 127.0.0.1 that the test starts (openssl s_server, or test/tls.py) with a
# throwaway self-signed certificate, completes the TLS handshake, checks the
# certificate, and moves data both ways. No name is resolved anywhere: the
# certificate carries IP:127.0.0.1 and every address is numeric.

load lib

SIZE=$((1 << 20))
LOCAL='127\.0\.0\.1:[0-9]+'	# a client on 127.0.0.1, as a regex

setup_file() {
	make_cert
}

# noproxyenv CMD...: run without any proxy setting from the environment.
noproxyenv() {
	env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
		-u no_proxy -u NO_PROXY "$@"
}

# proxy_tunnel_log UP_MIN DOWN_MIN: connectd ended with 0 and logged the tunnel
# to the target, with at least these many bytes each way.
proxy_tunnel_log() {
	assert_exit 0
	assert_tunnel_log --client-re "$LOCAL" '[0-9]+' '[0-9]+' eof
	echo "close line: $(tail -n1 "$PDIR/stderr")"
	[ "$(log_field last up)" -ge "$1" ]
	[ "$(log_field last down)" -ge "$2" ]
}

# payload: $SIZE bytes of random data in $T/payload; sets PSHA.
payload() {
	head -c "$SIZE" /dev/urandom >"$T/payload"
	PSHA=$(sha256sum <"$T/payload" | cut -d' ' -f1)
}

# curl_post ARGS...: POST the payload over TLS through the proxy to the echo
# server, certificate checked with the test's CA; body to $T/body.
curl_post() {
	noproxyenv curl -sS --noproxy '' --max-time 30 --cacert "$CERT" \
		--data-binary "@$T/payload" -H 'Content-Type: application/octet-stream' \
		-o "$T/body" -w '%{http_connect} %{http_code}' "$@" \
		"https://127.0.0.1:$TPORT/echo" >"$T/codes" 3>&-
}

# curl_posts ARGS...: curl_post with these proxy arguments (@PPORT@ is
# connectd's port) to the TLS server behind connectd: both answers 200, the
# payload comes back.
curl_posts() {
	need curl
	payload
	start_tls http
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	curl_post "${@//@PPORT@/$PPORT}"
	echo "codes: $(cat "$T/codes")"
	[ "$(cat "$T/codes")" = "200 200" ]
	[ "$(sha256sum <"$T/body" | cut -d' ' -f1)" = "$PSHA" ]
}

@test "curl -x (CONNECT HTTP/1.1 with Host) posts 1 MiB over TLS and gets it back" {
	curl_posts -x http://127.0.0.1:@PPORT@
	grep -q "^request POST /echo len=$SIZE sha=$PSHA tls=TLSv1\.[23]$" "$TDIR/events"
	proxy_tunnel_log "$SIZE" "$SIZE"
}

@test "curl --proxy1.0 (CONNECT HTTP/1.0) posts 1 MiB over TLS and gets it back" {
	curl_posts --proxy1.0 127.0.0.1:@PPORT@
	grep -q "^request POST /echo len=$SIZE sha=$PSHA " "$TDIR/events"
	proxy_tunnel_log "$SIZE" "$SIZE"
}

@test "curl -x refuses a certificate it was not told to trust: the check is real" {
	need curl
	payload
	start_tls http
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	local rc=0
	noproxyenv curl -sS --noproxy '' --max-time 30 --cacert /dev/null -x "http://127.0.0.1:$PPORT" \
		-o "$T/body" "https://127.0.0.1:$TPORT/1" 3>&- || rc=$?
	echo "curl exit $rc"
	[ "$rc" -eq 60 ] || [ "$rc" -eq 77 ] || [ "$rc" -eq 35 ]
	[ ! -s "$T/body" ]
	if grep '^request ' "$TDIR/events"; then
		echo "the server got a request through an unchecked certificate"
		return 1
	fi
}

@test "openssl s_client -proxy (CONNECT HTTP/1.0, no Host) talks TLS to s_server -rev both ways" {
	need_cert
	TDIR=$T/s_server
	mkdir -p "$TDIR"
	bg openssl s_server -accept 127.0.0.1:0 -cert "$CERT" -key "$KEY" -rev -naccept 1
	wait_grep "$T/bg.log" '^ACCEPT 127\.0\.0\.1:[0-9]+$' 10
	TPORT=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/bg.log" | head -n1)
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	# -rev answers each line reversed and ends the connection on CLOSE.
	printf 'hello through connectd\nCLOSE\n' |
		timeout 20 openssl s_client -proxy "127.0.0.1:$PPORT" -connect "127.0.0.1:$TPORT" \
			-CAfile "$CERT" -verify_return_error -verify_ip 127.0.0.1 -quiet -ign_eof \
			>"$T/reply" 2>"$T/s_client.err" 3>&-
	cat "$T/s_client.err"
	cat "$T/reply"
	grep -qx 'dtcennoc hguorht olleh' "$T/reply"
	grep -q '^verify return:1$' "$T/s_client.err"
	proxy_tunnel_log 300 300
}

# need_openbsd_nc: skip unless nc is OpenBSD's (it has -X and -x).
need_openbsd_nc() {
	need nc
	nc -h 2>&1 | grep -q -- '-X proxy_protocol' || skip "nc is not OpenBSD netcat (apt-get install netcat-openbsd)"
}

@test "OpenBSD nc -X connect (CONNECT HTTP/1.0, no header) carries TLS both ways (1 MiB each way, as an ssh ProxyCommand would)" {
	need_openbsd_nc
	start_tls echo
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	run "$PY" "$TLS" pipe --tls --cafile "$CERT" --bytes "$SIZE" -- \
		nc -N -X connect -x "127.0.0.1:$PPORT" 127.0.0.1 "$TPORT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"tls=TLSv1."*" end=eof rx=$SIZE ok=1 "* ]]
	target_events=$(cat "$TDIR/events")
	echo "target: $target_events"
	[[ $target_events == *" rx=$SIZE "*" tx=$SIZE "*" end=eof" ]]
	proxy_tunnel_log "$SIZE" "$SIZE"
}

@test "proxytunnel -e (CONNECT HTTP/1.1, Host without the port) does TLS to the target through the tunnel (1 MiB each way)" {
	need proxytunnel
	start_tls echo
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	run "$PY" "$TLS" pipe --bytes "$SIZE" -- \
		proxytunnel -q -p "127.0.0.1:$PPORT" -d "127.0.0.1:$TPORT" -e -C "$CERT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"rx=$SIZE ok=1 "* ]]
	wait_grep "$TDIR/events" '^done n=1 ' 10
	target_events=$(cat "$TDIR/events")
	echo "target: $target_events"
	[[ $target_events == *" rx=$SIZE "*" tx=$SIZE "*" tls=TLSv1."* ]]
	# proxytunnel may exit with the target's last TLS records unread, and then
	# its kernel resets the connection: connectd says so (end=reset, exit 111).
	proxy_exit
	case $PSTATUS in
	0) end=eof ;;
	111) end=reset ;;
	*) assert_exit 0 ;;
	esac
	assert_tunnel_log --client-re "$LOCAL" '[0-9]+' '[0-9]+' "$end"
}

@test "python's http.client with set_tunnel (CONNECT HTTP/1.0 in 3.11, HTTP/1.1 later) posts 1 MiB over TLS and gets it back" {
	payload
	start_tls http
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	run "$PY" - "$PPORT" "$TPORT" "$CERT" "$T/payload" <<-'EOF'
		import hashlib, http.client, ssl, sys
		pport, tport, cafile, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
		body = open(path, "rb").read()
		ctx = ssl.create_default_context(cafile=cafile)
		c = http.client.HTTPSConnection("127.0.0.1", pport, timeout=20, context=ctx)
		c.set_tunnel("127.0.0.1", tport)
		c.request("POST", "/echo", body=body, headers={"Content-Type": "application/octet-stream"})
		r = c.getresponse()
		got = r.read()
		print("status=%d len=%d same=%d tls=%s" % (r.status, len(got), got == body, c.sock.version()))
		c.close()
	EOF
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "status=200 len=$SIZE same=1 tls=TLSv1."* ]]
	proxy_tunnel_log "$SIZE" "$SIZE"
}

@test "nc -X connect to a server that speaks first: its banner comes after the 200, then bytes flow both ways" {
	need_openbsd_nc
	start_target --send 'SSH-2.0-banner\r\n' --wait-eof --reply 'bye\n'
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	# Nothing is written to nc until the banner has come out of it.
	run "$PY" "$TLS" banner --expect 'SSH-2.0-banner\r\n' --send 'hello\n' -- \
		nc -N -X connect -x "127.0.0.1:$PPORT" 127.0.0.1 "$TPORT"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "first=b'SSH-2.0-banner\\r\\n'" ]
	[ "${lines[1]}" = "out=b'SSH-2.0-banner\\r\\nbye\\n'" ]
	[ "${lines[2]}" = "status=0" ]
	target_done
	[ "$(cat "$TDIR/rx.1")" = hello ]
	assert_exit 0
	assert_tunnel_log --client-re "$LOCAL" 6 20 eof
}
