#!/usr/bin/env bats
# Allowed ports (default 443 563; N and N-M) and the order of checks: a port that
# is not allowed is refused before any DNS lookup; loopback is denied by default.

load lib

REQ='CONNECT 127.0.0.1:@PORT@ HTTP/1.1\r\nHost: x\r\n\r\n'
LOOP='addr=127.0.0.1:@PORT@ rule=builtin:loopback'

# default_port_allowed PORT ADDR: with no port given, a tunnel to a target on
# ADDR (in 127.0.0.0/8, made local by the kernel) and PORT opens. Needs root.
default_port_allowed() {
	need_root
	start_target --addr "$2" --port "$1" --send 'ok\n'
	start_proxy -- -a 127.0.0.0/8
	client "send=$(connect_req "$2:$1")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	assert_tunnel_log --host "$2" 0 3 eof
}

@test "with no port given, a port other than 443 and 563 gets 403 http_request_denied" {
	refused --target 127.0.0.1:@PORT@ 403 http_request_denied "$REQ" -a 127.0.0.1 -t 5
}

@test "with no port given, port 443 is allowed" {
	default_port_allowed 443 127.$((RANDOM % 200 + 20)).4.43
}

@test "with no port given, port 563 is allowed" {
	default_port_allowed 563 127.$((RANDOM % 200 + 20)).5.63
}

@test "once ports are given, 443 is no longer allowed" {
	refused --target 127.0.0.1:443 403 http_request_denied \
		'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n' -a 127.0.0.1 -t 5 @PORT@
}

@test "a single port N given is allowed" {
	accepted "$REQ" -a 127.0.0.1 @PORT@
}

@test "a range N-M allows its lowest and highest port" {
	start_target --send 'ok\n'
	start_proxy -- -a 127.0.0.1 "$TPORT-$((TPORT + 3))"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	start_proxy -- -a 127.0.0.1 "$((TPORT - 3))-$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

@test "a range N-N allows exactly N" {
	accepted "$REQ" -a 127.0.0.1 @PORT@-@PORT@
}

@test "a port just outside every given port and range gets 403 and no connection" {
	start_target --wait-eof
	refused --keep-target --target 127.0.0.1:@PORT@ 403 http_request_denied "$REQ" \
		-a 127.0.0.1 1-$((TPORT - 1)) $((TPORT + 1)) $((TPORT + 2))-65535
}

@test "a denied port is refused before any DNS lookup, even for a name that cannot resolve" {
	private_dns nxdomain
	refused --target no-such-host.test:80 403 http_request_denied \
		'CONNECT no-such-host.test:80 HTTP/1.1\r\nHost: x\r\n\r\n' -t 5
	no_dns_query
}

@test "loopback is denied by default: 403 destination_ip_prohibited, rule builtin:loopback" {
	refused --target 127.0.0.1:@PORT@ --extra " $LOOP" 403 destination_ip_prohibited "$REQ" -t 5 @PORT@
}

@test "IPv6 loopback is denied by default: 403 destination_ip_prohibited" {
	FAM=6
	refused --target '[::1]:@PORT@' --extra ' addr=[::1]:@PORT@ rule=builtin:loopback' \
		403 destination_ip_prohibited "$(connect_req '[::1]:@PORT@')" -t 5 @PORT@
}

@test "an IPv4-mapped IPv6 loopback address is denied as loopback" {
	refused --target '[::ffff:127.0.0.1]:@PORT@' --extra ' addr=[::ffff:127.0.0.1]:@PORT@ rule=builtin:loopback' \
		403 destination_ip_prohibited 'CONNECT [::ffff:127.0.0.1]:@PORT@ HTTP/1.1\r\nHost: x\r\n\r\n' -t 5 @PORT@
}

@test "a -d rule before an -a rule denies, and names the rule" {
	start_target --wait-eof
	start_proxy -- -d 127.0.0.1 -a 127.0.0.0/8 -t 5 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_refusal 403 destination_ip_prohibited
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=403 error=destination_ip_prohibited addr=127\.0\.0\.1:$TPORT rule=deny:127\.0\.0\.1(/32)?"
	assert_target_untouched
}

@test "an -a rule before a -d rule allows: the first rule that matches decides" {
	accepted "$REQ" -a 127.0.0.0/8 -d 127.0.0.1 @PORT@
}

@test "with an -a rule, loopback that it does not cover is still denied as loopback" {
	refused --target 127.0.0.1:@PORT@ --extra " $LOOP" 403 destination_ip_prohibited "$REQ" -a 10.0.0.0/8 -t 5 @PORT@
}

@test "with an -a rule, a remote address it does not cover is denied by default-deny" {
	# In a network namespace of its own: were connectd to try, nothing would leave.
	isolated_net
	refused --target 192.0.2.1:443 --extra " addr=192.0.2.1:443 rule=default-deny" 403 destination_ip_prohibited \
		'CONNECT 192.0.2.1:443 HTTP/1.1\r\nHost: x\r\n\r\n' -a 10.0.0.0/8 -t 5
}

@test "link-local, multicast, broadcast and unspecified addresses are denied by default" {
	isolated_net
	local a rule
	for a in 169.254.169.254:link-local 224.0.0.1:multicast 255.255.255.255:broadcast 0.0.0.0:unspecified \
		'[fe80::1]:link-local' '[ff02::1]:multicast' '[::]:unspecified'; do
		rule=${a##*:}
		a=${a%:*}
		refused --target "$a:443" --extra " addr=$a:443 rule=builtin:$rule" 403 destination_ip_prohibited "CONNECT $a:443 HTTP/1.1\r\nHost: x\r\n\r\n" -t 5
	done
}
