#!/usr/bin/env bats
# Connecting (RFC 8305, Happy Eyeballs): a name's allowed addresses are tried
# in interleaved order, a new attempt every -e ms (at once when the newest
# fails), the first connected wins and the others are closed, all within -c.
# The names live in a private /etc/hosts (private_hosts); an address that
# "drops every SYN" is a target whose listen queue is full (--mode never),
# one that refuses is an address nothing listens on. All on loopback.

load lib

# serve ADDR MODE: a target on ADDR (listen or never), on port P: the
# kernel's choice the first time (P unset), which sets P. Sets: P TPORT TDIR.
serve() {
	start_target --addr "$1" --mode "$2" ${P:+--port "$P"} --send 'ok\n'
	P=${P:-$TPORT}
}

# t_first_between LO HI: the first byte of the answer came after LO to HI seconds.
t_first_between() {
	between "$(info t_first)" "$1" "$2" "the answer came after (s)"
}

# dead_first [connectd options]: dead-first.test is 127.0.0.128, which drops
# every SYN, then 127.0.0.129, which listens; a tunnel to it opens through
# 127.0.0.129.
dead_first() {
	serve 127.0.0.128 never
	serve 127.0.0.129 listen
	private_hosts "127.0.0.128	dead-first.test" "127.0.0.129	dead-first.test"
	resolves_to dead-first.test 127.0.0.128 127.0.0.129
	through dead-first.test "$@"
	assert_tunnel_log --target "dead-first.test:$P" --addr "127.0.0.129:$P" 0 3 eof
}

# no_syn_sent ADDR: connectd holds no connection attempt to ADDR:P any more.
no_syn_sent() {
	need ss
	if ss -Htn state syn-sent "( dst $1 and dport = :$P )" | grep -q .; then
		echo "an attempt to $1:$P is still under way:"
		ss -tn state syn-sent
		return 1
	fi
}

# through NAME [connectd options]: a tunnel to NAME:P that must open (the
# options come before the -a rules, so that a -d among them is matched first).
through() {
	local name=$1
	shift
	start_proxy -- "$@" -a 127.0.0.0/8 -a ::1 -t 5 "$P"
	client --timeout 20 "send=$(connect_req "$name:$P")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

@test "a name whose first address drops every SYN gets its 200 from the second after about -e ms, not -c" {
	dead_first -c 10 -e 250
	t_first_between 0.2 2.0
	no_syn_sent 127.0.0.128
}

@test "with -e 0 the same name takes the first address's equal share of -c before the second" {
	dead_first -c 4 -e 0
	t_first_between 1.9 3.5
}

@test "a name whose addresses all drop every SYN gets 504 connection_timeout at -c" {
	serve 127.0.0.128 never
	serve 127.0.0.129 never
	private_hosts "127.0.0.128	all-dead.test" "127.0.0.129	all-dead.test"
	start_proxy -- -a 127.0.0.0/8 -t 5 -c 2 -e 250 "$P"
	client --timeout 20 "send=$(connect_req "all-dead.test:$P")" shut
	assert_refusal 504 connection_timeout
	assert_exit 111
	assert_log "client=$(re "$CLOCAL") target=all-dead\\.test:$P status=504 error=connection_timeout"
	t_first_between 1.9 4.0
	no_syn_sent 127.0.0.128
	no_syn_sent 127.0.0.129
	assert_gone
}

@test "a name whose first address refuses moves to the next at once, without waiting -e" {
	serve 127.0.0.129 listen	# nothing listens on 127.0.0.128:P: a reset
	private_hosts "127.0.0.128	refused-first.test" "127.0.0.129	refused-first.test"
	through refused-first.test -c 10 -e 2000
	t_first_between 0 1.0
	assert_tunnel_log --target "refused-first.test:$P" --addr "127.0.0.129:$P" 0 3 eof
}

@test "a name whose addresses all refuse gets 502 connection_refused from the last, at once" {
	serve 127.0.0.130 never	# only to hold a port; nothing listens on .128 and .129
	private_hosts "127.0.0.128	refused.test" "127.0.0.129	refused.test"
	start_proxy -- -a 127.0.0.0/8 -t 5 -c 10 -e 2000 "$P"
	client --timeout 20 "send=$(connect_req "refused.test:$P")" shut
	assert_refusal 502 connection_refused
	assert_exit 111
	t_first_between 0 1.0
}

@test "the families take turns: IPv4, IPv6, IPv4; the IPv6 address wins after one -e, not two" {
	[ -e /etc/gai.conf ] || skip "no /etc/gai.conf to bind a private one over"
	serve ::1 listen
	serve 127.0.0.128 never
	serve 127.0.0.129 never
	private_hosts "127.0.0.128	dual.test" "127.0.0.129	dual.test" "::1	dual.test"
	printf 'precedence ::ffff:0:0/96 100\nprecedence ::1/128 50\n' >"$T/etc/gai.conf"
	resolves_to dual.test 127.0.0.128 127.0.0.129 ::1
	through dual.test -c 10 -e 1000
	t_first_between 0.9 1.7
	assert_tunnel_log --target "dual.test:$P" --addr "[::1]:$P" 0 3 eof
	no_syn_sent 127.0.0.128
}

@test "the address rules filter before any attempt: a denied address is never tried" {
	serve 127.0.0.128 listen
	local denied=$TDIR
	serve 127.0.0.129 listen
	private_hosts "127.0.0.128	mixed.test" "127.0.0.129	mixed.test"
	through mixed.test -d 127.0.0.128 -e 10
	assert_tunnel_log --target "mixed.test:$P" --addr "127.0.0.129:$P" 0 3 eof
	assert_target_untouched --dir "$denied"
}

@test "-6 filters before any attempt: the IPv4 address of a name is never tried" {
	serve ::1 listen
	serve 127.0.0.128 listen
	private_hosts "127.0.0.128	dual.test" "::1	dual.test"
	through dual.test -6 -e 10
	assert_tunnel_log --target "dual.test:$P" --addr "[::1]:$P" 0 3 eof
	assert_target_untouched
}

@test "-e 0, 10 and 2000 are accepted; -e 5, 2001 and abc are usage errors naming them" {
	local e
	for e in 5 2001 abc -1; do
		run "$CONNECTD" -l stderr -e "$e" 443 </dev/null
		[ "$status" -eq 100 ]
		[ "$output" = "connectd: -e: not 0 or a number of milliseconds in 10..2000: $e" ]
	done
	for e in 0 10 2000; do
		run "$CONNECTD" -l stderr -e "$e" -t 1 443 </dev/null
		[ "$status" -eq 1 ]	# the client (nothing) gets its 400, not a usage error
	done
}
