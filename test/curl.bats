#!/usr/bin/env bats
# curl as a real client: plain HTTP through the CONNECT tunnel to a small HTTP
# server on 127.0.0.1, with HTTP/1.1 and HTTP/1.0 CONNECT requests.

load lib

SIZE=100000

# curl_via ARGS...: curl through the proxy, proxy settings from the environment
# ignored; body to $T/body, status codes to $T/codes.
curl_via() {
	env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
		-u no_proxy -u NO_PROXY \
		curl -sS --noproxy '' --max-time 20 -x "http://127.0.0.1:$PPORT" \
		-o "$T/body" -w '%{http_connect} %{http_code}' "$@" >"$T/codes" 3>&-
}

@test "curl fetches a page through the tunnel (CONNECT HTTP/1.1)" {
	need curl
	start_http "$SIZE"
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	curl_via -p "http://127.0.0.1:$TPORT/page"
	[ "$(cat "$T/codes")" = "200 200" ]
	[ "$(sha256sum <"$T/body" | cut -d' ' -f1)" = "$("$PY" "$HARNESS" streamsha "$SIZE")" ]
	assert_exit 0
	assert_tunnel_log --client-re '127\.0\.0\.1:[0-9]+' '[0-9]+' '[0-9]+' eof
	[ "$(log_field last down)" -gt "$SIZE" ]
	grep -q '^request GET /page ' "$TDIR/events"
}

@test "curl fetches a page through the tunnel (CONNECT HTTP/1.0, --proxy1.0)" {
	need curl
	start_http "$SIZE"
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	curl_via -p --proxy1.0 "127.0.0.1:$PPORT" "http://127.0.0.1:$TPORT/page10"
	[ "$(cat "$T/codes")" = "200 200" ]
	[ "$(sha256sum <"$T/body" | cut -d' ' -f1)" = "$("$PY" "$HARNESS" streamsha "$SIZE")" ]
	assert_exit 0
	grep -q '^request GET /page10 ' "$TDIR/events"
}

@test "curl through IPv6: proxy on ::1, target [::1]" {
	need curl
	FAM=6
	start_http "$SIZE"
	start_proxy -- -a ::1 -t 5 "$TPORT"
	env -u http_proxy -u https_proxy -u all_proxy -u no_proxy -u NO_PROXY \
		curl -sS --noproxy '' --max-time 20 -x "http://[::1]:$PPORT" -p \
		-o "$T/body" -w '%{http_connect} %{http_code}' "http://[::1]:$TPORT/six" >"$T/codes" 3>&-
	[ "$(cat "$T/codes")" = "200 200" ]
	[ "$(wc -c <"$T/body")" -eq "$SIZE" ]
	assert_exit 0
}

@test "curl sees the 403 for a port that is not allowed, and the server gets nothing" {
	need curl
	start_http "$SIZE"
	start_proxy -- -a 127.0.0.1 -t 5
	local rc=0
	curl_via -p "http://127.0.0.1:$TPORT/no" || rc=$?
	echo "curl exit $rc, codes $(cat "$T/codes")"
	[ "$rc" -eq 56 ]
	[[ $(cat "$T/codes") == "403 "* ]]
	assert_exit 1
	assert_log "client=127\.0\.0\.1:[0-9]+ target=127\.0\.0\.1:$TPORT status=403 error=http_request_denied"
	[ ! -s "$TDIR/events" ]
}
