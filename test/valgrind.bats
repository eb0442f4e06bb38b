#!/usr/bin/env bats
# A few tunnels under valgrind's memcheck: no error, no leak (definite,
# indirect or possible), in connectd and in the child that resolves a name.
#
# They run vg/connectd (make vg/connectd): the production sources and flags,
# with the seccomp filter built but not loaded (sandbox.c, SANDBOX_VALGRIND).
# The production binary cannot run under valgrind: valgrind makes system calls
# of its own from connectd's process, and the filter kills it (the first test
# shows it, so that this build is dropped the day it is not needed). What
# valgrind checks is still the production code: the same parse, policy,
# resolve, connect and relay, and the production pass of the suite shows that
# the relay makes no call outside the filter. Each test checks that valgrind
# really ran connectd (its log names the command) and that the tunnel did its
# work byte for byte.

load lib

VG=$(cd "$TESTDIR/.." && pwd)/vg/connectd

setup() {
	need python3 valgrind
	[ -x "$VG" ] || { echo "no $VG (make vg/connectd)"; return 1; }
	CONNECTD=$VG
	lib_setup
	# The resolving child opens its log as nobody: a directory it can reach.
	VGLOG=$(mktemp -d "${TMPDIR:-/tmp}/connectd-vg.XXXXXX")
	chmod 1777 "$VGLOG"
	CONNECTD_WRAP=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
		--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible
		--track-fds=no --vgdb=no --child-silent-after-fork=no --log-file="$VGLOG/log.%p")
}

teardown() {
	lib_teardown
	rm -rf "$VGLOG"
}

# assert_valgrind_clean [N]: N (1) valgrind logs, each of a run of connectd,
# each with no error and no leak.
assert_valgrind_clean() {
	local f n=0
	for f in "$VGLOG"/log.*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		if ! grep -q "Command: $VG " "$f" || ! grep -q 'ERROR SUMMARY: 0 errors from 0 contexts' "$f" ||
			grep -Eq '(definitely|indirectly|possibly) lost: [1-9]' "$f"; then
			echo "valgrind found a problem ($f):"
			cat "$f"
			return 1
		fi
	done
	[ "$n" -eq "${1:-1}" ] || { echo "expected ${1:-1} valgrind log(s), got $n"; ls -l "$VGLOG"; return 1; }
	grep -H "total heap usage" "$VGLOG"/log.* | sed "s|^.*/log\.\([0-9]*\):==[0-9]*== *|# valgrind, pid \1: |" >&3
}

@test "the production binary under valgrind is killed by its own filter (SIGSYS): hence vg/connectd" {
	start_target --send 'ok\n'
	start_proxy --connectd "$(cd "$TESTDIR/.." && pwd)/connectd" -- -a 127.0.0.1 -t 20 "$TPORT"
	client --timeout 30 "send=$(connect_req "127.0.0.1:$TPORT")" shut
	proxy_exit 30
	[ "$PSTATUS" = signal31 ] || { echo "status $PSTATUS"; cat "$PDIR/stderr"; return 1; }
}

@test "under valgrind, 1 MiB each way through sockets (splice): byte for byte, no error, no leak" {
	local n=$((1 << 20))
	start_target --echo
	start_proxy --timeout 60 -- -a 127.0.0.1 -t 20 "$TPORT"
	client_bg --timeout 50 --stall 20 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "mark=$T/open" "stream=$n" shut
	wait_file "$T/open" 30
	# What differs from production: no filter loaded, no new privileges all the same.
	connectd_pid
	grep -q '^Seccomp:[[:space:]]*0$' "/proc/$DPID/status"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$DPID/status"
	client_wait
	assert_client_end eof
	assert_200_first
	[ "$(info rx)" = "$n" ]
	[ "$(info rxsha)" = "$("$PY" "$HARNESS" streamsha "$n")" ]
	proxy_exit 60
	assert_valgrind_clean
	assert_exit 0
	assert_tunnel_log "$n" "$n" eof
	assert_gone
}

@test "under valgrind, 1 MiB each way through two pipes (read and write): byte for byte, no error, no leak" {
	local n=$((1 << 20))
	start_target --bytes "$n"
	start_proxy --pipes --timeout 60 -- -a 127.0.0.1 -t 20 "$TPORT"
	client --timeout 50 --stall 20 "send=$(connect_req "127.0.0.1:$TPORT")" waithead "stream=$n" shut
	assert_client_end eof
	assert_200_first
	[ "$(info rxsha)" = "$("$PY" "$HARNESS" streamsha "$n")" ]
	proxy_exit 60
	assert_valgrind_clean
	assert_exit 0
	target_done
	[ "$(field "$TDONE" rxsha)" = "$("$PY" "$HARNESS" streamsha "$n")" ]
	assert_tunnel_log --client - "$n" "$n" eof
}

@test "under valgrind, a name resolved by the child process, then a tunnel: no error, no leak in either" {
	private_dns nxdomain
	start_target --send 'ok\n' --wait-eof --reply 'bye\n'
	start_proxy --timeout 60 -- -a 127.0.0.1 -t 20 "$TPORT"
	client --timeout 50 "send=$(connect_req "target.test:$TPORT")hello" shut
	assert_out "${OK200}ok"$'\n'"bye"$'\n'
	proxy_exit 60
	assert_valgrind_clean 2
	assert_exit 0
	assert_tunnel_log --target "target.test:$TPORT" 5 7 eof
}

@test "under valgrind, a refused request and the linger after it: no error, no leak" {
	start_target --wait-eof
	start_proxy --timeout 60 -- -a 127.0.0.1 -t 20 "$TPORT"
	client --timeout 50 "send=CONNECT 127.0.0.1:$TPORT HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\nmore" shut
	assert_refusal 400 http_request_error
	proxy_exit 60
	assert_valgrind_clean
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") target=127\\.0\\.0\\.1:$TPORT status=400 error=http_request_error"
	assert_target_untouched
}

@test "under valgrind, a target that resets mid-tunnel: no error, no leak" {
	start_target --send 'hello' --rst-after 1
	start_proxy --timeout 60 -- -a 127.0.0.1 -t 20 "$TPORT"
	client --timeout 50 "send=$(connect_req "127.0.0.1:$TPORT")" waithead send=x waiteof
	assert_out "${OK200}hello"
	proxy_exit 60
	assert_valgrind_clean
	assert_exit 111
	assert_tunnel_log 1 5 reset
}
