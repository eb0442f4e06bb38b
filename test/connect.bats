#!/usr/bin/env bats
# Resolving and connecting: 502 and 504 with their Proxy-Status errors, the
# connect timeout, names (in a private mount namespace with its own resolver
# configuration, root only), and -b.

load lib

# closed_port ADDR: CONNECT to a target on ADDR (the loopback of FAM) whose
# port is closed gets 502 connection_refused, exit 111 and its log line.
closed_port() {
	local host=$1
	[[ $host != *:* ]] || host=[$1]
	start_target --mode closed
	start_proxy -- -a "$1" -t 5 "$TPORT"
	client "send=$(connect_req "$host:$TPORT")" shut
	assert_refusal 502 connection_refused
	assert_exit 111
	assert_log "client=$(re "$CLOCAL") target=$(re "$host:$TPORT") status=502 error=connection_refused"
}

@test "a closed port gets 502 connection_refused and exit 111" {
	closed_port 127.0.0.1
}

@test "a closed port on ::1 gets 502 connection_refused" {
	FAM=6
	closed_port ::1
}

@test "a target that never completes the handshake gets 504 connection_timeout within -c" {
	start_target --mode never
	start_proxy -- -a 127.0.0.1 -t 5 -c 1 "$TPORT"
	client --timeout 10 "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 504 connection_timeout
	assert_exit 111
	assert_log "client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=504 error=connection_timeout"
	between "$(info t_first)" 0.9 3.0 "the 504 after (s)"
	assert_gone
}

@test "-c counts from the end of the head, not from the start: a slow head still gets its -c" {
	start_target --mode never
	start_proxy -- -a 127.0.0.1 -t 5 -c 1 "$TPORT"
	client --timeout 10 "send=CONNECT 127.0.0.1:$TPORT HTTP/1.1\\r\\n" pause=1.5 "send=Host: x\\r\\n\\r\\n" shut
	assert_refusal 504 connection_timeout
	assert_exit 111
	between "$(info t_first)" 2.4 4.5 "the 504 after (s)"
}

@test "an unreachable network gets 502 destination_ip_unroutable" {
	# connectd in a network namespace with no interface up: nothing leaves.
	isolated_net
	refused --target 192.0.2.1:443 502 destination_ip_unroutable \
		'CONNECT 192.0.2.1:443 HTTP/1.1\r\nHost: x\r\n\r\n' -t 5
}

@test "a name that does not resolve gets 502 dns_error and exit 111" {
	private_dns nxdomain
	refused --target no-such-host.test:443 502 dns_error \
		'CONNECT no-such-host.test:443 HTTP/1.1\r\nHost: x\r\n\r\n' -t 5
	grep -q '^query no-such-host\.test ' "$T/dns/queries" ||
		{ echo "the DNS stub was never asked:"; cat "$T/dns/queries"; return 1; }
}

@test "a name whose resolution takes longer than -c gets 504 dns_timeout within -c" {
	private_dns silent
	refused --target slow-host.test:443 504 dns_timeout \
		'CONNECT slow-host.test:443 HTTP/1.1\r\nHost: x\r\n\r\n' -t 5 -c 1
	between "$(info t_first)" 0.9 3.0 "the 504 after (s)"
	grep -q '^query slow-host\.test ' "$T/dns/queries"
	assert_gone # the resolving child too
}

@test "a name resolves once and the tunnel goes to its address, logged as addr" {
	private_dns nxdomain
	ok_tunnel "$(connect_req target.test:@PORT@)" -a 127.0.0.1 -t 5 @PORT@
	assert_tunnel_log --target "target.test:$TPORT" 0 3 eof
	stop_target
	[ "$TACCEPTS" = 1 ]
}

@test "a name that resolves to loopback is denied by default, with its address logged" {
	private_dns nxdomain
	refused --target target.test:@PORT@ --extra ' addr=127.0.0.1:@PORT@ rule=builtin:loopback' 403 destination_ip_prohibited \
		'CONNECT target.test:@PORT@ HTTP/1.1\r\nHost: x\r\n\r\n' -t 5 @PORT@
}

@test "a numeric target never asks the resolver" {
	private_dns nxdomain
	ok_tunnel "$(connect_req 127.0.0.1:@PORT@)" -a 127.0.0.1 -t 5 @PORT@
	no_dns_query
}

@test "-b sets the local address of the connection to the target" {
	ok_tunnel "$(connect_req 127.0.0.1:@PORT@)" -a 127.0.0.1 -b 127.0.0.2 -t 5 @PORT@
	assert_tunnel_log 0 3 eof
	target_done
	local port
	port=$(log_field first proxy-source-port)
	[[ $TDONE == *" peer=127.0.0.2:$port "* ]] || { echo "target: $TDONE (logged port $port)"; return 1; }
}

@test "-b with an address that is not local gets 502 proxy_configuration_error" {
	refused --target 127.0.0.1:@PORT@ 502 proxy_configuration_error \
		'CONNECT 127.0.0.1:@PORT@ HTTP/1.1\r\nHost: x\r\n\r\n' -a 127.0.0.1 -b 192.0.2.1 -t 5 @PORT@
}

@test "a name's denied addresses are skipped and never connected to" {
	private_dns nxdomain
	# dual.test is ::1 and 127.0.0.1, and the resolver gives ::1 first: a decoy
	# listens there, and only 127.0.0.1 is allowed.
	start_target --send 'four\n'
	local four=$TDIR
	start_target --family 6 --port "$TPORT" --send 'decoy\n'
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "dual.test:$TPORT")" shut
	assert_out "${OK200}four"$'\n'
	assert_exit 0
	assert_tunnel_log --target "dual.test:$TPORT" 0 5 eof
	assert_target_untouched
	stop_target --dir "$four"
	[ "$TACCEPTS" = 1 ]
}

@test "-4 connects to IPv4 only: an IPv6 target gets 403 naming the family rule" {
	FAM=6
	refused --target '[::1]:@PORT@' --extra ' addr=[::1]:@PORT@ rule=family:-4' 403 destination_ip_prohibited \
		'CONNECT [::1]:@PORT@ HTTP/1.1\r\nHost: x\r\n\r\n' -4 -a ::1 -t 5 @PORT@
}

@test "-6 connects to IPv6 only: an IPv4 target gets 403 naming the family rule" {
	refused --target 127.0.0.1:@PORT@ --extra ' addr=127.0.0.1:@PORT@ rule=family:-6' 403 destination_ip_prohibited \
		'CONNECT 127.0.0.1:@PORT@ HTTP/1.1\r\nHost: x\r\n\r\n' -6 -a 127.0.0.1 -t 5 @PORT@
}

@test "-6 with a name asks only for IPv6 addresses and uses them" {
	private_dns nxdomain
	FAM=6
	start_target --send 'six\n'
	start_proxy -- -6 -a ::1 -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(connect_req "dual.test:$TPORT")" shut
	assert_out "${OK200}six"$'\n'
	assert_exit 0
	assert_tunnel_log --target "dual.test:$TPORT" --host '[::1]' 0 4 eof
}
