#!/usr/bin/env bats
# The command line: every option parses; every bad argument is a usage error
# (one line naming it, exit 100) before a byte is read from the client.

load lib

# usage_matches REGEX ARG...: connectd with these arguments (@PORT@ is a live
# target's port) and a valid request for that target waiting on standard input
# (a file, so that what connectd reads moves the shared offset) must print exactly
# one line matching REGEX, exit 100, write nothing to stdout, read nothing, and
# never reach the target.
usage_matches() {
	local want=$1 args
	shift
	start_target --wait-eof
	args=("${@//@PORT@/$TPORT}")
	printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n\r\n' "$TPORT" >"$T/req"
	{
		rc=0
		"$CONNECTD" "${args[@]}" >"$T/stdout" 2>"$T/stderr" 3>&- || rc=$?
		echo "$rc" >"$T/rc"
		cat >"$T/rest"
	} <"$T/req"
	echo "connectd ${args[*]}: exit $(cat "$T/rc"), stderr:"
	cat -A "$T/stderr"
	[ "$(cat "$T/rc")" = 100 ]
	[ "$(wc -l <"$T/stderr")" -eq 1 ]
	[[ $(cat "$T/stderr") =~ ^$want$ ]]
	[ ! -s "$T/stdout" ]
	cmp "$T/req" "$T/rest" || { echo "connectd read from its standard input"; return 1; }
	assert_target_untouched
}

# bad MESSAGE ARG...: the one line is exactly MESSAGE.
bad() {
	local msg=$1
	shift
	usage_matches "$(re "$msg")" "$@"
}

PORTMSG='connectd: port: not a port or range N-M of 1..65535'

@test "an unknown option is one line naming it with the usage, exit 100" {
	bad "connectd: -z: unknown option; $USAGE" -z -a 127.0.0.1 @PORT@
}

@test "an option missing its argument is one line naming it with the usage, exit 100" {
	bad "connectd: -t: needs an argument; $USAGE" -a 127.0.0.1 @PORT@ -t
	bad "connectd: -i: needs an argument; $USAGE" -a 127.0.0.1 -i
}

@test "port 0 is a usage error naming it" {
	bad "$PORTMSG: 0" -a 127.0.0.1 @PORT@ 0
}

@test "port 65536 is a usage error naming it" {
	bad "$PORTMSG: 65536" -a 127.0.0.1 @PORT@ 65536
}

@test "port 99999999999 is a usage error naming it" {
	bad "$PORTMSG: 99999999999" -a 127.0.0.1 @PORT@ 99999999999
}

@test "a reversed range 5-3 is a usage error naming it" {
	bad "$PORTMSG: 5-3" -a 127.0.0.1 @PORT@ 5-3
}

@test "a port that is not a number (abc) is a usage error naming it" {
	bad "$PORTMSG: abc" -a 127.0.0.1 @PORT@ abc
}

@test "a port with a sign, a hex prefix, a space, a half range or nothing is a usage error" {
	bad "$PORTMSG: +443" -a 127.0.0.1 @PORT@ +443
	bad "$PORTMSG: 0x1bb" -a 127.0.0.1 @PORT@ 0x1bb
	bad "$PORTMSG: \\x20443" -a 127.0.0.1 @PORT@ ' 443'
	bad "$PORTMSG: 1-" -a 127.0.0.1 @PORT@ 1-
	bad "$PORTMSG: 1-65536" -a 127.0.0.1 @PORT@ 1-65536
	bad "$PORTMSG: " -a 127.0.0.1 @PORT@ ''
}

@test "-c 0 is a usage error naming it" {
	bad 'connectd: -c: not a number of seconds in 1..3600: 0' -a 127.0.0.1 -c 0 @PORT@
}

@test "-c abc, -c 5s and -c 3601 are usage errors naming them" {
	bad 'connectd: -c: not a number of seconds in 1..3600: abc' -a 127.0.0.1 -c abc @PORT@
	bad 'connectd: -c: not a number of seconds in 1..3600: 5s' -a 127.0.0.1 -c 5s @PORT@
	bad 'connectd: -c: not a number of seconds in 1..3600: 3601' -a 127.0.0.1 -c 3601 @PORT@
}

@test "-t 0, -t abc and -t 3601 are usage errors naming them" {
	bad 'connectd: -t: not a number of seconds in 1..3600: 0' -a 127.0.0.1 -t 0 @PORT@
	bad 'connectd: -t: not a number of seconds in 1..3600: abc' -a 127.0.0.1 -t abc @PORT@
	bad 'connectd: -t: not a number of seconds in 1..3600: 3601' -a 127.0.0.1 -t 3601 @PORT@
}

@test "-i -1, -i abc and -i 86401 are usage errors naming them" {
	bad 'connectd: -i: not a number of seconds in 0..86400: -1' -a 127.0.0.1 -i -1 @PORT@
	bad 'connectd: -i: not a number of seconds in 0..86400: abc' -a 127.0.0.1 -i abc @PORT@
	bad 'connectd: -i: not a number of seconds in 0..86400: 86401' -a 127.0.0.1 -i 86401 @PORT@
}

@test "-l bogus is a usage error naming it" {
	bad 'connectd: -l: not auto, stderr or syslog: bogus' -a 127.0.0.1 -l bogus @PORT@
}

@test "-b with something that is not a numeric address is a usage error naming it" {
	bad 'connectd: -b: not a numeric address: not-an-address' -a 127.0.0.1 -b not-an-address @PORT@
	bad 'connectd: -b: not a numeric address: localhost' -a 127.0.0.1 -b localhost @PORT@
	bad 'connectd: -b: not a numeric address: 127.0.0.1:80' -a 127.0.0.1 -b 127.0.0.1:80 @PORT@
	bad 'connectd: -b: not a numeric address: 127.1' -a 127.0.0.1 -b 127.1 @PORT@
	bad 'connectd: -b: not a numeric address: 10.0.0.0/8' -a 127.0.0.1 -b 10.0.0.0/8 @PORT@
}

@test "-b of the other family than -4 or -6 is a usage error naming -b" {
	usage_matches 'connectd: -b: [^:]+:.*' -4 -b ::1 -a 127.0.0.1 @PORT@
	usage_matches 'connectd: -b: [^:]+:.*' -6 -b 127.0.0.1 -a ::1 @PORT@
}

@test "-a with a bad network is a usage error naming it" {
	bad 'connectd: -a: bad address or network: 10.0.0.0/33' -a 10.0.0.0/33 -a 127.0.0.1 @PORT@
	bad 'connectd: -a: bad address or network: 300.1.1.1' -a 300.1.1.1 -a 127.0.0.1 @PORT@
	bad 'connectd: -a: bad address or network: ::1/129' -a ::1/129 -a 127.0.0.1 @PORT@
	bad 'connectd: -a: bad address or network: example.com' -a example.com -a 127.0.0.1 @PORT@
	bad 'connectd: -a: bad address or network: 10.0.0.0/' -a 10.0.0.0/ -a 127.0.0.1 @PORT@
	bad 'connectd: -a: bad address or network: 127.1' -a 127.1 -a 127.0.0.1 @PORT@
}

@test "-d with a bad network is a usage error naming it" {
	bad 'connectd: -d: bad address or network: 10.0.0.0/-1' -a 127.0.0.1 -d 10.0.0.0/-1 @PORT@
	bad 'connectd: -d: bad address or network: abc' -a 127.0.0.1 -d abc @PORT@
	bad 'connectd: -d: bad address or network: 1.2.3.4/8x' -a 127.0.0.1 -d 1.2.3.4/8x @PORT@
}

@test "a bad argument is escaped in its message: the message stays one line" {
	bad 'connectd: -a: bad address or network: a\x0ab\x20c\x22\x5c' -a $'a\nb c"\\' -a 127.0.0.1 @PORT@
}

@test "-u with an unknown user, as root, is a usage error naming it" {
	need_root
	bad 'connectd: -u: no such user: no-such-user-x7' -u no-such-user-x7 -a 127.0.0.1 @PORT@
}

@test "more than 64 port specs is a usage error" {
	local ports=() i
	for ((i = 1; i <= 65; i++)); do ports+=("$i"); done
	bad 'connectd: port: too many port specs: 65' -a 127.0.0.1 "${ports[@]}"
}

@test "more than 64 -a and -d rules is a usage error" {
	local rules=() i
	for ((i = 1; i <= 64; i++)); do rules+=(-d "10.$i.0.0/16"); done
	bad 'connectd: -a: too many rules: 127.0.0.1' "${rules[@]}" -a 127.0.0.1 @PORT@
}

@test "a usage error reads nothing from a client socket and sends it nothing" {
	unread_usage_error 'connectd: -c: not a number of seconds in 1..3600: 0' -a 127.0.0.1 -c 0 @PORT@
}

@test "every option parses together and the tunnel works (IPv4)" {
	start_target --send 'hi\n'
	start_proxy -- -4 -a 127.0.0.1 -d 10.0.0.0/8 -b 127.0.0.1 -c 5 -t 5 -i 5 -l stderr -u nobody 1000-1001 "$TPORT" 443
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}hi"$'\n'
	assert_exit 0
	assert_tunnel_log 0 3 eof
}

@test "every option parses together and the tunnel works (IPv6)" {
	FAM=6
	start_target --send 'hi\n'
	start_proxy -- -6 -a ::1 -d fd00::/8 -b ::1 -c 5 -t 5 -i 5 -l auto -u nobody 1000-1001 "$TPORT" 443
	client "send=$(connect_req "[::1]:$TPORT")" shut
	assert_out "${OK200}hi"$'\n'
	assert_exit 0
	assert_tunnel_log --host '[::1]' 0 3 eof
}

@test "the largest values of -c, -t, -i and the widest port range are accepted" {
	start_target --send 'hi\n'
	start_proxy -- -a 127.0.0.0/8 -c 3600 -t 3600 -i 86400 1-65535
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}hi"$'\n'
	assert_exit 0
}

@test "64 port specs and 64 rules are accepted" {
	local args=() i
	for ((i = 1; i <= 63; i++)); do args+=(-d "10.$i.0.0/16"); done
	args+=(-a 127.0.0.1)
	for ((i = 1; i <= 63; i++)); do args+=("$i"); done
	start_target --send 'hi\n'
	start_proxy -- "${args[@]}" "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}hi"$'\n'
	assert_exit 0
}

@test "-i 0 means no idle timeout" {
	start_target --wait-eof --reply 'late\n'
	start_proxy -- -a 127.0.0.1 -i 0 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" waithead pause=1.2 shut
	assert_out "${OK200}late"$'\n'
	assert_exit 0
	assert_tunnel_log 0 5 eof
}

@test "-l syslog sends nothing to stderr" {
	start_target --send 'hi\n'
	start_proxy -- -a 127.0.0.1 -l syslog "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}hi"$'\n'
	assert_exit 0
	[ ! -s "$PDIR/stderr" ]
}

@test "run as root, connectd becomes nobody with no supplementary group but its own" {
	need_root
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 "$TPORT"
	client_bg "send=$(connect_req "127.0.0.1:$TPORT")" waithead "waitfile=$T/go" shut
	wait_grep "$TDIR/events" '^accept n=1 ' 5
	connectd_pid
	local uid gid groups
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$DPID/status")
	gid=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$DPID/status")
	groups=$(awk '/^Groups:/ {$1 = ""; print}' "/proc/$DPID/status" | tr -d ' ')
	release
	n=$(id -u nobody)
	g=$(id -g nobody)
	echo "uid: $uid gid: $gid groups: [$groups]"
	[ "$uid" = "$n $n $n $n" ]
	[ "$gid" = "$g $g $g $g" ]
	[ -z "$groups" ] || [ "$groups" = "$g" ]
	assert_exit 0
}

@test "-u daemon makes connectd that user" {
	need_root
	id daemon >/dev/null 2>&1 || skip "no user daemon"
	start_target --wait-eof
	start_proxy -- -u daemon -a 127.0.0.1 "$TPORT"
	client_bg "send=$(connect_req "127.0.0.1:$TPORT")" waithead "waitfile=$T/go" shut
	wait_grep "$TDIR/events" '^accept n=1 ' 5
	connectd_pid
	local uid n
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$DPID/status")
	release
	n=$(id -u daemon)
	[ "$uid" = "$n $n $n $n" ]
	assert_exit 0
}

@test "not run as root, -u is ignored, even for a user that does not exist" {
	[ "$(id -u)" -ne 0 ] || skip "needs a user other than root"
	start_target --send 'hi\n'
	start_proxy -- -u no-such-user-x7 -a 127.0.0.1 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" shut
	assert_out "${OK200}hi"$'\n'
	assert_exit 0
}
