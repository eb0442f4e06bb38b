#!/usr/bin/env bats
# Faults over real sockets: a target or a client that resets mid-tunnel, one
# that never reads, a head dripped just inside -t, signals from the
# super-server while bytes move or while a name resolves. Each test checks the
# status, the exit code, the log line, and that no process of connectd is left
# (assert_gone). Already elsewhere, and not repeated here: a target that never
# completes the handshake and a DNS server that never answers (connect.bats),
# a head dripped slower than -t (head.bats), SIGTERM and SIGHUP on an idle
# tunnel (tunnel.bats, security.bats).

load lib

MIB=1048576

# kib PID FIELD: a size from /proc/PID/status (VmRSS, VmHWM), in kB.
kib() {
	sed -n "s/^$2:[[:space:]]*\\([0-9]*\\) kB$/\\1/p" "/proc/$1/status" 2>/dev/null || true
}

# memory_until_exit PID: poll /proc/PID/status (bounded, 20 s) until it is
# gone; sets HWM0 (VmHWM at the first look), HWM (the last) and RSSMAX (kB).
memory_until_exit() {
	local pid=$1 end v r
	end=$(($(date +%s) + 20))
	HWM0=$(kib "$pid" VmHWM) HWM=$HWM0 RSSMAX=0
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -le "$end" ]; do
		v=$(kib "$pid" VmHWM)
		r=$(kib "$pid" VmRSS)
		[ -n "$v" ] && HWM=$v
		[ -n "$r" ] && [ "$r" -gt "$RSSMAX" ] && RSSMAX=$r
		sleep 0.05
	done
	echo "# connectd VmHWM ${HWM0} kB at the 200, ${HWM} kB at the end; VmRSS at most ${RSSMAX} kB" | tee /dev/fd/3
}

# assert_memory_bounded: VmHWM grew by less than 1 MiB while the buffers
# filled; a production build stays under 4 MiB in all (a sanitizer build
# starts far higher: its shadow memory).
assert_memory_bounded() {
	[ -n "$HWM0" ] && [ -n "$HWM" ] || { echo "no memory figures"; return 1; }
	[ $((HWM - HWM0)) -lt 1024 ] || { echo "VmHWM grew by $((HWM - HWM0)) kB"; return 1; }
	[ -n "${CONNECTD_SANITIZED-}" ] || [ "$HWM" -lt 4096 ] || { echo "VmHWM $HWM kB"; return 1; }
}

# idle_end_bounded up|down: the held client ended, and so did connectd, at -i
# (2 s): exit 0, the tunnel's two lines with the bytes moved that way (more
# than 64 KiB, less than 64 MiB) and none the other, after 2 to 8 s; memory
# bounded, nothing left.
idle_end_bounded() {
	local n
	client_wait
	assert_exit 0
	if [ "$1" = up ]; then
		assert_tunnel_log '[0-9]+' 0 idle
	else
		assert_tunnel_log 0 '[0-9]+' idle
	fi
	n=$(log_field last "$1")
	echo "$1=$n"
	[ "$n" -gt 65536 ] && [ "$n" -lt $((64 * MIB)) ]
	between "$(log_field last secs)" 2.0 8.0 "secs"
	assert_memory_bounded
	assert_gone
}

# elapsed_under SECS: connectd ran less than SECS seconds in all.
elapsed_under() {
	local e
	e=$(cat "$PDIR/elapsed")
	awk -v e="$e" -v s="$1" 'BEGIN { exit !(e < s) }' || { echo "connectd ran ${e}s"; return 1; }
}

@test "the target resets mid-tunnel: its bytes reach the client, then EOF, end=reset, exit 111 at once" {
	start_target --send 'hello' --rst-after 1
	start_proxy -- -a 127.0.0.1 -t 5 -i 30 "$TPORT"
	# The client keeps its side open after the EOF: connectd must end by itself.
	client --timeout 20 "send=$(connect_req "127.0.0.1:$TPORT")" waithead send=x waiteof "waitfile=$PDIR/status"
	assert_out "${OK200}hello"
	assert_client_end eof
	assert_exit 111
	assert_tunnel_log 1 5 reset
	elapsed_under 5
	target_done
	[[ $TDONE == *" rx=1 "*" end=rst" ]] || { echo "target: $TDONE"; return 1; }
	assert_gone
}

@test "the target resets while the client streams 64 MiB up: end=reset, exit 111 at once" {
	start_target --rst-after "$MIB"
	start_proxy -- -a 127.0.0.1 -t 5 -i 30 "$TPORT"
	client --timeout 20 --stall 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "stream=$((64 * MIB))"
	assert_exit 111
	assert_tunnel_log '[0-9]+' 0 reset
	local up
	up=$(log_field last up)
	echo "up=$up"
	[ "$up" -ge "$MIB" ] && [ "$up" -lt $((64 * MIB)) ]
	elapsed_under 8
	[[ $(info end) == eof || $(info end) == reset ]]
	assert_gone
}

@test "the client vanishes (reset) mid-tunnel: end=reset, exit 111 at once, though the target stays silent" {
	start_target --send 'hello' --no-read
	start_proxy -- -a 127.0.0.1 -t 5 -i 30 "$TPORT"
	client --timeout 20 "send=$(connect_req "127.0.0.1:$TPORT")abc" waithead pause=0.2 rst
	assert_exit 111
	assert_tunnel_log --client "$(cat "$T/info.local")" 3 5 reset
	elapsed_under 5
	assert_gone
}

@test "the client vanishes mid-tunnel: the target gets the bytes sent before, then EOF" {
	start_target --send 'hello' --wait-eof --reply 'late\n'
	start_proxy -- -a 127.0.0.1 -t 5 -i 30 "$TPORT"
	client --timeout 20 "send=$(connect_req "127.0.0.1:$TPORT")abc" waithead pause=0.2 rst
	assert_exit 111
	assert_tunnel_log --client "$(cat "$T/info.local")" 3 5 reset
	target_done
	[ "$(cat "$TDIR/rx.1")" = abc ]
	[[ $TDONE == *" end=eof"* ]] || { echo "target: $TDONE"; return 1; }
	elapsed_under 5
	assert_gone
}

@test "a target that never reads while the client keeps sending: memory stays bounded, the tunnel ends at -i" {
	start_target --no-read
	start_proxy -- -a 127.0.0.1 -t 5 -i 2 "$TPORT"
	client_bg --timeout 30 --stall 25 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "mark=$T/open" \
		"stream=$((64 * MIB))"
	wait_file "$T/open"
	connectd_pid
	memory_until_exit "$DPID"
	idle_end_bounded up
}

@test "a client that never reads while the target sends: memory stays bounded, the tunnel ends at -i" {
	start_target --bytes $((64 * MIB))
	start_proxy -- -a 127.0.0.1 -t 5 -i 2 "$TPORT"
	client_bg --timeout 30 --no-read "send=$(connect_req "127.0.0.1:$TPORT")" "mark=$T/open" "waitfile=$PDIR/status"
	wait_file "$T/open"
	connectd_pid
	wait_grep "$PDIR/stderr" 'status=200$' 5
	memory_until_exit "$DPID"
	idle_end_bounded down
}

@test "a head dripped one byte per write just inside -t opens the tunnel" {
	start_target --send 'ok\n'
	start_proxy -- -a 127.0.0.1 -t 4 "$TPORT"
	local req
	req="CONNECT 127.0.0.1:$TPORT HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
	# About 45 bytes, 60 ms apart: the head is complete after about 2.7 s.
	client --timeout 15 "trickle=0.06:$req" waithead shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log 0 3 eof
	local t
	t=$(info t_first)
	echo "200 after ${t}s"
	awk -v t="$t" 'BEGIN { exit !(t >= 2.0 && t < 4.0) }'
	assert_gone
}

# signal_mid_stream SIG: the tunnel moves a gigabyte each way when the
# super-server sends SIG; connectd logs end=signal with the counts so far.
signal_mid_stream() {
	local gib=$((1 << 30)) up down
	start_target --bytes "$gib"
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client_bg --timeout 60 --stall 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead \
		"stream=$MIB" "mark=$T/flowing" "stream=$gib" shut
	wait_file "$T/flowing" 10
	connectd_pid
	kill "-$1" "$DPID"
	assert_exit 111
	client_wait
	assert_tunnel_log '[0-9]+' '[0-9]+' signal
	up=$(log_field last up)
	down=$(log_field last down)
	echo "up=$up down=$down at the $1"
	[ "$up" -lt "$gib" ] && [ "$down" -lt "$gib" ]
	[[ $(info end) == eof || $(info end) == reset ]]
	assert_gone
}

@test "SIGTERM while bytes stream both ways ends the tunnel: end=signal, exit 111, nothing left" {
	signal_mid_stream TERM
}

@test "SIGHUP while bytes stream both ways ends the tunnel: end=signal, exit 111, nothing left" {
	signal_mid_stream HUP
}

@test "SIGTERM while a name resolves ends connectd with its decision line end=signal and leaves no resolver behind" {
	private_dns silent
	start_proxy -- -t 5 -c 20 443
	client_bg --timeout 20 "send=$(connect_req slow-host.test:443)" waiteof
	wait_grep "$T/dns/queries" '^query slow-host\.test ' 10
	connectd_pid
	kill -TERM "$DPID"
	proxy_exit 5
	[ "$PSTATUS" = 111 ] || { echo "status $PSTATUS"; return 1; }
	assert_log "client=[^ ]+ target=slow-host\.test:443 status=- end=signal"
	# The resolving child held the client's socket too: gone with connectd,
	# it lets the client see its EOF now, not when getaddrinfo gives up.
	assert_gone 2
	client_wait
	assert_client_end eof
}

# cpu_under SECS: connectd (and its children) used less CPU than SECS seconds.
cpu_under() {
	local c
	c=$(cat "$PDIR/cpu")
	echo "connectd used ${c}s of CPU"
	awk -v c="$c" -v s="$1" 'BEGIN { exit !(c < s) }'
}

@test "a TCP urgent byte from the client reaches the target inline, and every byte after it (spliced)" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" waithead send=before oob=U send=after shut
	assert_out "$OK200"
	assert_exit 0
	target_done
	[ "$(cat "$TDIR/rx.1")" = beforeUafter ] || { echo "the target got: $(od -c "$TDIR/rx.1")"; return 1; }
	assert_tunnel_log 12 0 eof
	cpu_under 1
}

@test "a TCP urgent byte from the target reaches the client inline, and every byte after it (spliced)" {
	start_target --send before --urgent U --then after
	start_proxy -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" waiteof shut
	assert_out "${OK200}beforeUafter"
	assert_exit 0
	assert_tunnel_log 0 12 eof
	cpu_under 1
}

@test "with pipes on 0 and 1, a TCP urgent byte from the target reaches the client inline" {
	start_target --send before --urgent U --then after
	start_proxy --pipes -- -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" waiteof shut
	assert_out "${OK200}beforeUafter"
	assert_exit 0
}

@test "after urgent bytes both ways, an idle tunnel ends at -i and connectd used no CPU while it waited" {
	start_target --send before --urgent U --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 -i 2 "$TPORT"
	client --timeout 15 "send=$(connect_req "127.0.0.1:$TPORT")" waithead send=up oob=V waiteof shut
	assert_out "${OK200}beforeU"
	assert_exit 0
	assert_tunnel_log 3 7 idle
	target_done
	[ "$(cat "$TDIR/rx.1")" = upV ]
	cpu_under 0.5
}

# caught PID: wait (bounded) until PID catches SIGTERM and SIGHUP (its
# SigCgt has bits 1 and 15): before that, a signal's default action would end
# it, as it would any program that has not yet set its handlers.
caught() {
	local end=$((SECONDS + 10)) cgt
	while cgt=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null) &&
		(((16#${cgt:-0} & 0x4001) != 0x4001)); do
		[ $SECONDS -lt $end ] || { echo "connectd $1 never caught SIGTERM and SIGHUP"; return 1; }
		sleep 0.01
	done
}

# signal_now SIG: send SIG to connectd, the held client's, once it catches
# it; connectd ends with exit 111 and nothing of it is left; the client ends too.
signal_now() {
	connectd_pid
	caught "$DPID"
	kill "-$1" "$DPID"
	assert_exit 111
	assert_gone
	client_wait
}

@test "SIGTERM while the head is still coming: the decision line status=- end=signal, exit 111" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 20 "$TPORT"
	client_bg --timeout 20 "send=CONNECT 127.0.0.1:$TPORT HTTP/1.1\\r\\n" "mark=$T/sent" waiteof
	wait_file "$T/sent" 10
	signal_now TERM
	assert_log "client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=- end=signal"
	assert_target_untouched
}

@test "SIGHUP before any byte of the head: the decision line target=- status=- end=signal" {
	start_proxy -- -a 127.0.0.1 -t 20 443
	client_bg --timeout 20 "mark=$T/sent" waiteof
	wait_file "$T/sent" 10
	signal_now HUP
	assert_log "client=$(re "$CLOCAL") target=- status=- end=signal"
}

@test "SIGTERM while connecting to a target that never answers: the decision line end=signal, exit 111" {
	start_target --mode never
	start_proxy -- -a 127.0.0.1 -t 5 -c 30 "$TPORT"
	client_bg --timeout 20 "send=$(connect_req "127.0.0.1:$TPORT")" waiteof
	# connectd's SYN waits in the full queue: its socket is in SYN-SENT.
	need ss
	local end=$((SECONDS + 10))
	until ss -Htn state syn-sent "( dport = :$TPORT )" | grep -q .; do
		[ $SECONDS -lt $end ] || { echo "no connection in SYN-SENT to port $TPORT"; return 1; }
		sleep 0.02
	done
	signal_now TERM
	assert_log "client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=- end=signal"
}

@test "SIGTERM while a refused client lingers: the refusal's line alone, and its exit status" {
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 1
	client_bg --timeout 20 "send=$(connect_req "127.0.0.1:$TPORT")" waithead pause=5
	wait_grep "$PDIR/stderr" 'status=403' 10
	connectd_pid
	kill -TERM "$DPID"
	assert_exit 1
	client_wait
	assert_refusal 403 http_request_denied
	assert_log "client=[^ ]+ target=127\.0\.0\.1:$TPORT status=403 error=http_request_denied"
	assert_target_untouched
}

@test "descriptors a wrapper leaked above 1024 are closed at the start: the tunnel works" {
	# The wrapper raises the limit and leaves 1100 descriptors open for connectd.
	# shellcheck disable=SC2016
	CONNECTD_WRAP=(bash -c 'ulimit -n 4096 && for ((i = 3; i < 1100; i++)); do eval "exec $i</dev/null"; done && exec "$@"' bash)
	ok_tunnel "$(connect_req 127.0.0.1:@PORT@)" -a 127.0.0.1 -t 5 @PORT@
	assert_tunnel_log 0 3 eof
}
