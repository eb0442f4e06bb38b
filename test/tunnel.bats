#!/usr/bin/env bats
# The tunnel: the exact 200, pipelined bytes, half-close both ways, large
# streams byte for byte, the idle timeout, signals, and the two log lines.

load lib

setup_file() {
	export GIB=$((1 << 30))
}

@test "the 200 is exactly the status line and a blank line, and nothing precedes the target's bytes" {
	start_target --send 'banner from the target\r\n' --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" waithead pause=0.2 shut
	assert_out "${OK200}banner from the target"$'\r\n'
	assert_exit 0
	assert_tunnel_log 0 24 eof
}

@test "bytes sent in the same write as the request reach the target first, byte for byte" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")\\x16\\x03\\x01\\x00\\xffhello\\r\\n\\r\\nworld" waithead \
		"send=, and more" shut
	assert_out "$OK200"
	assert_exit 0
	target_done
	printf '\x16\x03\x01\x00\xffhello\r\n\r\nworld, and more' >"$T/want"
	cmp "$T/want" "$TDIR/rx.1"
	assert_tunnel_log 29 0 eof
}

@test "200000 bytes sent in the same write as the request all reach the target" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n\r\n' "$TPORT" >"$T/req"
	"$PY" "$HARNESS" streamcat 200000 >>"$T/req"
	client --stall 10 "sendfile=$T/req" shut
	assert_out "$OK200"
	assert_client_end eof
	assert_exit 0
	target_done
	[ "$(field "$TDONE" rx)" = 200000 ]
	[ "$(field "$TDONE" rxsha)" = "$("$PY" "$HARNESS" streamsha 200000)" ]
	assert_tunnel_log 200000 0 eof
}

@test "with a splice pipe smaller than the bytes sent after the head, every one of them reaches the target" {
	local small=$TESTDIR/../pipe4k/connectd
	[ -x "$small" ] || { echo "no $small (make check builds it)"; return 1; }
	start_target --wait-eof
	start_proxy --connectd "$small" -- -a 127.0.0.1 -t 5 "$TPORT"
	printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n\r\n' "$TPORT" >"$T/req"
	"$PY" "$HARNESS" streamcat 8000 >>"$T/req"
	client "sendfile=$T/req" shut
	assert_out "$OK200"
	assert_exit 0
	target_done
	[ "$(field "$TDONE" rx)" = 8000 ] || { echo "target: $TDONE"; return 1; }
	[ "$(field "$TDONE" rxsha)" = "$("$PY" "$HARNESS" streamsha 8000)" ]
	assert_tunnel_log 8000 0 eof
}

@test "half-close: the target replies after the client's EOF" {
	start_target --wait-eof --reply 'reply after your EOF\n'
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")question" shut
	assert_out "${OK200}reply after your EOF"$'\n'
	assert_exit 0
	target_done
	[ "$(cat "$TDIR/rx.1")" = question ]
	assert_tunnel_log 8 21 eof
}

@test "half-close: the client keeps sending after the target's EOF" {
	start_target --send 'bye\n'
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" waiteof \
		"send=sent after the target's EOF" pause=0.2 "send=, still" shut
	assert_out "${OK200}bye"$'\n'
	assert_exit 0
	target_done
	[ "$(cat "$TDIR/rx.1")" = "sent after the target's EOF, still" ]
	assert_tunnel_log 34 4 eof
}

@test "1 GiB each way at once goes through byte for byte (sha256)" {
	start_target --bytes "$GIB"
	start_proxy --timeout 120 -- -a 127.0.0.1 -t 5 "$TPORT"
	client --timeout 110 --stall 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "stream=$GIB" shut
	assert_client_end eof
	assert_200_first
	assert_exit 0
	target_done
	echo "client: $(tr '\n' ' ' <"$T/info")"
	echo "target: $TDONE"
	local want
	want=$("$PY" "$HARNESS" streamsha "$GIB")
	[ "$(info tx)" = "$GIB" ]
	[ "$(info rx)" = "$GIB" ]
	[ "$(info rxsha)" = "$want" ]
	[ "$(field "$TDONE" rx)" = "$GIB" ]
	[ "$(field "$TDONE" rxsha)" = "$want" ]
	[ "$(field "$TDONE" tx)" = "$GIB" ]
	assert_tunnel_log "$GIB" "$GIB" eof
}

@test "up and down byte counts in the close line are exact" {
	start_target --bytes 54321
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")abc" waithead stream=12342 shut
	assert_200_first
	[ "$(info rx)" = 54321 ]
	assert_exit 0
	assert_tunnel_log 12345 54321 eof
}

@test "the logged proxy-source-port is the port the target saw the connection come from" {
	ok_tunnel "$(connect_req 127.0.0.1:@PORT@)" -a 127.0.0.1 -t 5 @PORT@
	assert_tunnel_log 0 3 eof
	target_done
	local port
	port=$(log_field first proxy-source-port)
	echo "logged $port, target: $TDONE"
	[[ $TDONE == *" peer=127.0.0.1:$port "* ]]
}

@test "an idle tunnel ends after -i seconds: exit 0, end=idle, both sides see EOF" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 -i 1 "$TPORT"
	client --timeout 10 "send=$(connect_req "127.0.0.1:$TPORT")" waiteof
	assert_out "$OK200"
	assert_client_end eof
	assert_exit 0
	assert_tunnel_log 0 0 idle
	between "$(log_field last secs)" 0.9 3.0 "the idle end after (s)"
	target_done
	[ "$(field "$TDONE" end)" = eof ]
}

@test "the idle timer restarts whenever bytes move" {
	start_target --wait-eof --reply 'done\n'
	start_proxy -- -a 127.0.0.1 -t 5 -i 2 "$TPORT"
	client --timeout 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead \
		send=a pause=0.7 send=b pause=0.7 send=c pause=0.7 send=d pause=0.7 send=e shut
	assert_out "${OK200}done"$'\n'
	assert_exit 0
	assert_tunnel_log 5 5 eof
}

@test "SIGTERM ends a tunnel with a close line end=signal and exit 111" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client_bg --timeout 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "mark=$T/200" "waitfile=$T/go"
	wait_file "$T/200"
	connectd_pid
	kill -TERM "$DPID"
	touch "$T/go"
	client_wait
	assert_exit 111
	assert_tunnel_log 0 0 signal
	assert_gone
}

@test "a client over ::1 tunnels to [::1]" {
	FAM=6
	start_target --send 'six\n' --wait-eof --reply 'bye\n'
	start_proxy -- -a ::1 -t 5 "$TPORT"
	client "send=$(connect_req "[::1]:$TPORT")hello" shut
	assert_out "${OK200}six"$'\n'"bye"$'\n'
	assert_exit 0
	[[ $CLOCAL == '[::1]:'* ]]
	assert_tunnel_log --host '[::1]' 5 8 eof
	target_done
	[ "$(cat "$TDIR/rx.1")" = hello ]
	[[ $TDONE == *" peer=[::1]:$(log_field first proxy-source-port) "* ]]
}

@test "a client over 127.0.0.1 tunnels to [::1] and a client over ::1 to 127.0.0.1" {
	start_target --family 6 --send 'ok\n'
	start_proxy -- -a ::1 -t 5 "$TPORT"
	client "send=$(connect_req "[::1]:$TPORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log --host '[::1]' 0 3 eof
	start_target --send 'ok\n'
	start_proxy --family 6 -- -a 127.0.0.1 -t 5 "$TPORT"
	client --family 6 "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log 0 3 eof
}

@test "with fds 0 and 1 as two pipes, 16 MiB each way goes through and both EOFs pass" {
	local n=$((16 << 20))
	start_target --bytes "$n"
	start_proxy --pipes -- -a 127.0.0.1 -t 5 "$TPORT"
	client --timeout 60 --stall 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "stream=$n" shut
	assert_client_end eof
	assert_200_first
	assert_exit 0
	target_done
	local want
	want=$("$PY" "$HARNESS" streamsha "$n")
	[ "$(info rx)" = "$n" ]
	[ "$(info rxsha)" = "$want" ]
	[ "$(field "$TDONE" rxsha)" = "$want" ]
	assert_tunnel_log --client - "$n" "$n" eof
}

@test "with two pipes, the target replies after the client's EOF" {
	start_target --wait-eof --reply 'reply\n'
	start_proxy --pipes -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")question" shut
	assert_out "${OK200}reply"$'\n'
	assert_exit 0
	target_done
	[ "$(cat "$TDIR/rx.1")" = question ]
}

@test "with two pipes, a refusal is a complete response and exit 1" {
	start_target --wait-eof
	start_proxy --pipes -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" shut
	assert_refusal 405 http_request_error
	assert_exit 1
	assert_log "client=- target=[^ ]+ status=405 error=http_request_error"
	assert_target_untouched
}
