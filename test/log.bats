#!/usr/bin/env bats
# The log: one line per event whatever the client sends (its bytes escaped as
# \xHH and cut at 255), and the client's name in order of trust.

load lib

# lower_hex: \xHH escapes in lower case, the rest untouched.
lower_hex() {
	sed -E 's/\\x([0-9A-Fa-f]{2})/\\x\L\1/g'
}

# logged_target REQUEST: send it (escapes), expect a 400 and exactly one log
# line; sets LT to its target field, hex escapes in lower case.
logged_target() {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$1" shut
	assert_refusal 400 http_request_error
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=[^ ]+ status=400 error=http_request_error"
	LT=$(field "$(lower_hex <"$PDIR/stderr")" target)
	echo "target logged as: $LT"
	assert_target_untouched
}

@test "quotes, backslashes and bytes outside printable ASCII in the target are escaped as \\xHH" {
	logged_target 'CONNECT "a\\b\xff\x7f\x01:443 HTTP/1.1\r\nHost: x\r\n\r\n'
	[ "$LT" = '\x22a\x5cb\xff\x7f\x01:443' ]
}

@test "a tab, a vertical tab and look-alike fields in the target cannot forge fields" {
	logged_target 'CONNECT x:443\x0bstatus=200\tend=eof HTTP/1.1\r\nHost: x\r\n\r\n'
	[ "$LT" = 'x:443\x0bstatus=200\x09end=eof' ]
}

@test "a CR in the target never breaks the log line" {
	logged_target 'CONNECT a\rb:443 HTTP/1.1\r\nHost: x\r\n\r\n'
	[ "$LT" = '-' ] || [ "$LT" = 'a\x0db:443' ]
}

@test "an LF in the target cannot forge a second log line" {
	logged_target 'CONNECT x\nclient=1.2.3.4:5 target=y:443 status=200 HTTP/1.1\r\nHost: x\r\n\r\n'
	if grep -q '1\.2\.3\.4' "$PDIR/stderr"; then
		echo "forged: $(cat "$PDIR/stderr")"
		return 1
	fi
}

@test "spaces in the target cannot forge fields" {
	logged_target 'CONNECT a status=200 b:443 HTTP/1.1\r\nHost: x\r\n\r\n'
	[ "$(grep -o 'status=' "$PDIR/stderr" | wc -l)" -eq 1 ]
}

@test "a long target is cut at 255 bytes with ... appended" {
	logged_target "CONNECT $(repeat a 300):443 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
	[ "$LT" = "$(repeat a 255)..." ]
}

@test "the cut counts the client's bytes, so escaping cannot stretch a line past it" {
	logged_target "CONNECT $(repeat '\xff' 300):443 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
	[ "$LT" = "$(repeat '\xff' 255)..." ]
}

@test "a target of exactly 255 bytes is logged whole" {
	logged_target "CONNECT $(repeat a 251):443 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
	[ "$LT" = "$(repeat a 251):443" ]
}

@test "a request line with no target logs target=-" {
	logged_target 'CONNECT\r\nHost: x\r\n\r\n'
	[ "$LT" = - ]
}

@test "the client is named by getpeername: 127.0.0.1:port" {
	named
	[ "$NAME" = "$CLOCAL" ]
	[[ $NAME =~ ^127\.0\.0\.1:[0-9]+$ ]]
}

@test "the client is named by getpeername: [::1]:port" {
	FAM=6
	named
	[ "$NAME" = "$CLOCAL" ]
	[[ $NAME =~ ^\[::1\]:[0-9]+$ ]]
}

@test "TCPREMOTEIP:TCPREMOTEPORT with PROTO=TCP wins over getpeername: the connection the super-server accepted" {
	named --env TCPREMOTEIP=192.0.2.7 --env TCPREMOTEPORT=4321 --env PROTO=TCP --env REMOTE_HOST=192.0.2.8
	[ "$NAME" = 192.0.2.7:4321 ]
}

@test "getpeername wins over REMOTE_HOST alone when fd 0 is a socket" {
	named --env REMOTE_HOST=192.0.2.8
	[ "$NAME" = "$CLOCAL" ]
}

@test "with fd 0 a pipe, the client is TCPREMOTEIP:TCPREMOTEPORT when PROTO=TCP" {
	named --pipes --env TCPREMOTEIP=192.0.2.7 --env TCPREMOTEPORT=4321 --env PROTO=TCP --env REMOTE_HOST=192.0.2.8
	[ "$NAME" = 192.0.2.7:4321 ]
}

@test "with fd 0 a pipe and no PROTO=TCP, the client is REMOTE_HOST" {
	named --pipes --env TCPREMOTEIP=192.0.2.7 --env TCPREMOTEPORT=4321 --env REMOTE_HOST=192.0.2.8
	[ "$NAME" = 192.0.2.8 ]
}

@test "with fd 0 a pipe and nothing in the environment, the client is -" {
	named --pipes
	[ "$NAME" = - ]
}

@test "a REMOTE_HOST with a space or a newline stays inside its field" {
	named --pipes --env $'REMOTE_HOST=a b\nstatus=200'
	[[ $NAME != *' '* ]]
}

@test "with stderr the client socket (inetd), no log byte reaches the client in a tunnel" {
	start_target --send 'banner\n' --wait-eof --reply 'end\n'
	start_proxy --stderr socket -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")hi" waithead pause=0.2 shut
	assert_out "${OK200}banner"$'\n'"end"$'\n'
	assert_exit 0
	target_done
	[ "$(cat "$TDIR/rx.1")" = hi ]
}

@test "with stderr the client socket (inetd), a refusal is the response alone" {
	start_target --wait-eof
	start_proxy --stderr socket -- -a 127.0.0.1 -t 5 1
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 http_request_denied
	assert_exit 1
	assert_target_untouched
}

@test "with stderr the client socket (inetd), a usage error sends the client nothing" {
	start_target --wait-eof
	start_proxy --stderr socket -- -a 127.0.0.1 -c 0 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_exit 100
	[ ! -s "$T/out" ] || { od -c "$T/out" | head; return 1; }
	assert_target_untouched
}

@test "with stderr the client socket, the log lines go to syslog (facility daemon)" {
	private_syslog
	start_target --send 'ok\n'
	start_proxy --stderr socket -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	wait_grep "$T/syslog/messages" 'end=eof$' 5
	cat "$T/syslog/messages"
	local c
	c=$(re "$CLOCAL")
	[ "$(wc -l <"$T/syslog/messages")" -eq 2 ]
	# <30> is facility daemon (3) * 8 + priority info (6).
	grep -Eq "^<30>.*connectd\[[0-9]+\]: client=$c target=127\.0\.0\.1:$TPORT addr=127\.0\.0\.1:$TPORT proxy-source-port=[0-9]+ status=200$" "$T/syslog/messages"
	grep -Eq "^<30>.*connectd\[[0-9]+\]: client=$c target=127\.0\.0\.1:$TPORT status=200 up=0 down=3 secs=[0-9]+\.[0-9]{3} end=eof$" "$T/syslog/messages"
}

@test "with stderr closed, the log lines go to syslog" {
	private_syslog
	start_target --wait-eof
	start_proxy --stderr closed -- -a 127.0.0.1 -t 5 1
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 http_request_denied
	assert_exit 1
	wait_grep "$T/syslog/messages" 'status=403' 5
	grep -Eq "^<30>.*connectd\[[0-9]+\]: client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=403 error=http_request_denied$" "$T/syslog/messages"
}

@test "-l syslog sends the log lines to syslog, not stderr" {
	private_syslog
	start_target --wait-eof
	start_proxy -- -l syslog -a 127.0.0.1 -t 5 1
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 http_request_denied
	assert_exit 1
	[ ! -s "$PDIR/stderr" ]
	wait_grep "$T/syslog/messages" 'status=403' 5
	grep -Eq "^<30>.*connectd\[[0-9]+\]: client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=403 error=http_request_denied$" "$T/syslog/messages"
}

@test "with stderr the client socket, a usage error goes to syslog" {
	private_syslog
	start_target --wait-eof
	start_proxy --stderr socket -- -a 127.0.0.1 -c 0 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_exit 100
	[ ! -s "$T/out" ]
	wait_grep "$T/syslog/messages" 'connectd' 5
	grep -Eq '^<[0-9]+>.*connectd\[[0-9]+\]: connectd: -c: not a number of seconds in 1\.\.3600: 0$' "$T/syslog/messages"
}
