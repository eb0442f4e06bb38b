#!/usr/bin/env bats
# The seccomp filter on a second architecture: i386, built with gcc -m32
# (Debian's gcc-multilib, make m32-build) and run on this kernel's 32-bit ABI.
# i386's C library makes other calls than x86_64's for the same relay: it
# sends, receives and shuts down through the socketcall(2) multiplexer and
# returns from a signal handler with sigreturn. The filter is right only if
# the 32-bit relay runs under it: the 32-bit unit test of the filter, then
# real tunnels through m32/connectd, with the client socket on descriptors 0
# and 1 (splice) and with two pipes (read and write on the pipes, recv and
# send on the target's socket), half-closes, a refusal, the idle timer, a
# signal and a syslog line, each checked byte for byte and line for line.
#
# Where -m32 cannot build and run a program (gcc-multilib is missing), those
# tests skip naming the package. The last test needs no 32-bit build: an
# architecture whose filter is not proven here must not build at all.

load lib

ROOT=$(cd "$TESTDIR/.." && pwd)

# The 32-bit build, once for the file, where -m32 can build and run a program.
setup_file() {
	local cc=${CC:-cc} probe=$BATS_FILE_TMPDIR/probe
	export M32_MISSING=
	# The headers too: without gcc-multilib's link, -m32 finds no asm/ headers.
	if ! printf '#include <sys/socket.h>\n#include <sys/syscall.h>\nint main(void) { return SYS_socketcall == 0; }\n' |
		$cc -m32 -x c -o "$probe" - 2>/dev/null; then
		M32_MISSING="needs gcc-multilib ($cc -m32 cannot build a program here; apt-get install gcc-multilib)"
	elif ! "$probe"; then
		M32_MISSING="this kernel cannot run a 32-bit x86 program (no IA32 emulation)"
	else
		make -s -C "$ROOT" WERROR=-Werror m32-build
	fi
}

setup() {
	lib_state
	CONNECTD=$ROOT/m32/connectd
}

# need_m32: skip without the 32-bit build; check that it is one.
need_m32() {
	[ -z "$M32_MISSING" ] || skip "$M32_MISSING"
	need python3
	elf32 "$CONNECTD"
	elf32 "$ROOT/m32/unit_sandbox"
}

# elf32 FILE: FILE is a 32-bit x86 ELF program (class 1, machine 3, EM_386).
elf32() {
	local class machine
	class=$(od -An -tx1 -j4 -N1 "$1" | tr -d ' ')
	machine=$(od -An -tx1 -j18 -N2 "$1" | tr -d ' ')
	[ "$class" = 01 ] && [ "$machine" = 0300 ] ||
		{ echo "$1 is not an i386 program (ELF class $class, machine $machine)"; return 1; }
}

# hold [client steps]: hold_tunnel to the target (the client's waits longer,
# for the 32-bit build), and check that the filter is on. Sets: CLIENTPID DPID.
hold() {
	hold_tunnel --timeout 40 --stall 10 "127.0.0.1:$TPORT" "$@"
	if [ "$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$DPID/status" 2>/dev/null)" != 2 ]; then
		proxy_exit 5
		echo "connectd ($DPID) is not running under a seccomp filter: it ended with $PSTATUS; its log:"
		cat "$PDIR/stderr"
		return 1
	fi
}

# both_ways N [launcher options]: N bytes of the stream each way at once under
# the sandbox, both EOFs passed on, byte for byte (sha256) at both ends.
both_ways() {
	local n=$1 want
	shift
	start_target --bytes "$n"
	start_proxy "$@" -- -a 127.0.0.1 -t 5 "$TPORT"
	hold "stream=$n" shut
	release
	assert_client_end eof
	assert_200_first
	assert_exit 0
	target_done
	want=$("$PY" "$HARNESS" streamsha "$n")
	[ "$(info rx)" = "$n" ] && [ "$(info rxsha)" = "$want" ] ||
		{ echo "the client got: $(tr '\n' ' ' <"$T/info")"; return 1; }
	[ "$(field "$TDONE" rx)" = "$n" ] && [ "$(field "$TDONE" rxsha)" = "$want" ] ||
		{ echo "the target got: $TDONE"; return 1; }
}

# reply_after_eof [launcher options]: the client sends and half-closes; the
# target answers only after that EOF has reached it.
reply_after_eof() {
	start_target --wait-eof --reply 'reply after your EOF\n'
	start_proxy "$@" -- -a 127.0.0.1 -t 5 "$TPORT"
	hold send=question shut
	release
	assert_exit 0
	assert_out "${OK200}reply after your EOF"$'\n'
	target_done
	[ "$(cat "$TDIR/rx.1")" = question ]
}

# send_after_eof [launcher options]: the target sends and closes; the client
# gets that EOF and still sends after it.
send_after_eof() {
	start_target --send 'bye\n'
	start_proxy "$@" -- -a 127.0.0.1 -t 5 "$TPORT"
	hold waiteof "send=sent after the target's EOF" pause=0.2 "send=, still" shut
	release
	assert_exit 0
	assert_out "${OK200}bye"$'\n'
	target_done
	[ "$(cat "$TDIR/rx.1")" = "sent after the target's EOF, still" ]
}

@test "the 32-bit unit test of the filter passes: the relay's calls work, every other call dies by SIGSYS" {
	need_m32
	run "$ROOT/m32/unit_sandbox"
	echo "$output"
	[ "$status" -eq 0 ]
	local plan
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$output")
	[ -n "$plan" ] && [ "$(grep -c '^ok ' <<<"$output")" -eq "$plan" ]
	! grep -q '^not ok' <<<"$output"
	grep -q 'socketcall(SYS_SOCKET) kills the process with SIGSYS' <<<"$output"
}

@test "with the client socket on 0 and 1, 1 MiB each way goes through the 32-bit connectd byte for byte" {
	need_m32
	both_ways 1048576
	assert_tunnel_log 1048576 1048576 eof
}

@test "with two pipes on 0 and 1, 1 MiB each way goes through the 32-bit connectd byte for byte" {
	need_m32
	both_ways 1048576 --pipes
	assert_tunnel_log --client - 1048576 1048576 eof
}

@test "with the client socket on 0 and 1, the 32-bit connectd passes the client's EOF on and the target's reply back" {
	need_m32
	reply_after_eof
	assert_tunnel_log 8 21 eof
}

@test "with the client socket on 0 and 1, the 32-bit connectd passes the target's EOF on and the client can still send" {
	need_m32
	send_after_eof
	assert_tunnel_log 34 4 eof
}

@test "with two pipes, the 32-bit connectd passes the client's EOF on and the target's reply back" {
	need_m32
	reply_after_eof --pipes
	assert_tunnel_log --client - 8 21 eof
}

@test "with two pipes, the 32-bit connectd passes the target's EOF on and the client can still send" {
	need_m32
	send_after_eof --pipes
	assert_tunnel_log --client - 34 4 eof
}

@test "the 32-bit connectd refuses a port outside the ranges with a complete 403, exit 1, and no connection" {
	need_m32
	refused 403 http_request_denied "$(connect_req "127.0.0.1:@PORT@")" -a 127.0.0.1 -t 5 1
}

@test "with two pipes, a tunnel through the 32-bit connectd that goes idle ends after -i with end=idle and exit 0" {
	need_m32
	start_target --wait-eof
	start_proxy --pipes -- -a 127.0.0.1 -t 5 -i 1 "$TPORT"
	hold send=hello waiteof
	release
	assert_out "$OK200"
	assert_client_end eof
	assert_exit 0
	assert_tunnel_log --client - 5 0 idle
	target_done
	[ "$(cat "$TDIR/rx.1")" = hello ]
}

@test "SIGTERM mid-tunnel ends the 32-bit connectd's tunnel with end=signal and exit 111, not SIGSYS" {
	need_m32
	start_target --wait-eof
	start_proxy -- -a 127.0.0.1 -t 5 "$TPORT"
	hold send=late shut
	kill -TERM "$DPID"
	assert_exit 111
	release
	assert_tunnel_log 0 0 signal
	assert_gone
}

@test "the 32-bit connectd sends its tunnel's close line to syslog from inside the sandbox" {
	need_m32
	private_syslog
	start_target --send 'ok\n'
	start_proxy -- -l syslog -a 127.0.0.1 -t 5 "$TPORT"
	hold shut
	release
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	[ ! -s "$PDIR/stderr" ]
	wait_grep "$T/syslog/messages" 'end=eof$' 5
	cat "$T/syslog/messages"
	[ "$(wc -l <"$T/syslog/messages")" -eq 2 ]
	grep -Eq "^<30>[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} connectd\[[0-9]+\]: client=$(re "$CLOCAL") target=127\.0\.0\.1:$TPORT status=200 up=0 down=3 secs=[0-9]+\.[0-9]{3} end=eof$" \
		"$T/syslog/messages"
}

@test "sandbox.c stops the build for aarch64, 32-bit ARM and riscv64, whose filters are not proven" {
	local cc=${CC:-cc} arch defs
	for arch in aarch64 arm riscv64; do
		case $arch in
		aarch64) defs=(-D__aarch64__) ;;
		arm) defs=(-D__arm__ -D__ARMEL__) ;;
		riscv64) defs=(-D__riscv -D__riscv_xlen=64) ;;
		esac
		# The preprocessor alone, as if for that target: the #error stops it.
		run $cc -std=c11 -D_DEFAULT_SOURCE -E -U__x86_64__ -U__x86_64 -U__amd64__ -U__amd64 \
			-U__i386__ -U__i386 -Ui386 "${defs[@]}" -o /dev/null "$ROOT/sandbox.c"
		echo "$arch: $output"
		[ "$status" -ne 0 ]
		[[ $output == *"#error \"the seccomp filter is not checked on $arch"* ]]
	done
}
