#!/usr/bin/env bats
# What the work on connectd's own cost added: -u uid:gid, the user to become
# given in numbers, so that no connection looks a name up in the user
# database; and a bulk direction's larger pipe.

load lib

@test "-u uid:gid, as root, makes connectd that uid and gid with no supplementary group, with no such user in the database" {
	need_root
	! getent passwd 4242 >/dev/null || skip "uid 4242 is a user here"
	start_target --wait-eof
	start_proxy -- -u 4242:4343 -a 127.0.0.1 "$TPORT"
	client "send=$(connect_req "127.0.0.1:$TPORT")" waithead "waitfile=$T/go" shut &
	wait_grep "$TDIR/events" '^accept n=1 ' 5
	local pid uid gid groups
	pid=$(cat "$PDIR/pid")
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
	gid=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
	groups=$(awk '/^Groups:/ {$1 = ""; print}' "/proc/$pid/status" | tr -d ' ')
	touch "$T/go"
	wait $!
	echo "uid: $uid gid: $gid groups: [$groups]"
	[ "$uid" = "4242 4242 4242 4242" ]
	[ "$gid" = "4343 4343 4343 4343" ]
	[ -z "$groups" ]
	assert_exit 0
}

@test "-u 0:0, as root, is a usage error: connectd never stays root" {
	need_root
	usage_error --target 'connectd: -u: not an unprivileged user: 0:0' -u 0:0
}

@test "-u with a colon but not two numbers is a usage error naming it, whoever runs connectd" {
	local a
	for a in 1: :1 a:1 1:b 1:2:3 -1:1 4294967295:1 1:4294967295 ' 1:1'; do
		usage_error --target "connectd: -u: not a user name or uid:gid: ${a// /\\x20}" -u "$a"
	done
}

@test "a tunnel direction whose pipe one read fills is offered a 1 MiB pipe once, inside the sandbox, and its bytes stay exact" {
	need strace
	[ -z "${CONNECTD_SANITIZED-}" ] || skip "the sanitizer's leak check cannot run under strace (ptrace)"
	local n=$((16 << 20)) want
	start_target --bytes "$n"
	CONNECTD_WRAP=(strace -f -qq -o "$T/strace" -e trace=fcntl,prctl)
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	client --timeout 60 --stall 10 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "stream=$n" shut
	assert_client_end eof
	assert_exit 0
	target_done
	want=$("$PY" "$HARNESS" streamsha "$n")
	[ "$(info rx)" = "$n" ]
	[ "$(info rxsha)" = "$want" ]
	[ "$(field "$TDONE" rxsha)" = "$want" ]
	cat "$T/strace"
	# Each direction's pipe: kept as the kernel made it before the filter
	# (no call), 1 MiB after it, once.
	[ "$(sed -n '1,/PR_SET_SECCOMP/p' "$T/strace" | grep -c 'F_SETPIPE_SZ')" -eq 0 ]
	[ "$(sed -n '/PR_SET_SECCOMP/,$p' "$T/strace" | grep -c 'F_SETPIPE_SZ, 1048576) *= 1048576$')" -eq 2 ]
	[ "$(grep -c 'F_SETPIPE_SZ' "$T/strace")" -eq 2 ]
}
