#!/usr/bin/env bats
# Load under ucspi-tcp's tcpserver, one connectd per connection as in
# production: many tunnels at once, each byte checked (test/loadgen.c compares
# every byte with the stream it must be, per tunnel and direction), then many
# short ones in a row; afterwards no connectd, zombie or descriptor is left.
# Timings go to the TAP output as comments.

load lib

setup() {
	need tcpserver
	T=$BATS_TEST_TMPDIR
	PIDS=()
	LOADGEN=$TESTDIR/loadgen
	[ -x "$LOADGEN" ] || { echo "no $LOADGEN (make test/loadgen)"; return 1; }
	[ -x "$CONNECTD" ] || { echo "no connectd binary at $CONNECTD (run make)"; return 1; }
}

# start_load_target: test/loadgen serve; sets LTPORT, LTPID.
start_load_target() {
	"$LOADGEN" serve "$T/ltport" >"$T/target.out" 2>"$T/target.err" </dev/null 3>&- &
	LTPID=$!
	PIDS+=("$LTPID")
	wait_grep "$T/ltport" '^[0-9]+$' 10
	LTPORT=$(cat "$T/ltport")
}

# start_tcpserver: connectd under tcpserver on 127.0.0.1, on a port the kernel
# chose (tcpserver -1 prints it); connectd's log and tcpserver's -v lines go to
# TSLOG, where lib.bash's teardown looks for sanitizer reports too. Sets
# TSPORT, TSPID, TSFDS (its descriptors at the start).
start_tcpserver() {
	mkdir -p "$T/proxy.tcpserver"
	TSLOG=$T/proxy.tcpserver/stderr
	tcpserver -1 -v -c 300 -b 256 -H -R -l 0 127.0.0.1 0 \
		env "CONNECTD_MARK=$T/proxy.tcpserver" "$CONNECTD" -a 127.0.0.1 -t 10 "$LTPORT" \
		>"$T/tcpserver.port" 2>>"$TSLOG" </dev/null 3>&- &
	TSPID=$!
	PIDS+=("$TSPID")
	wait_grep "$T/tcpserver.port" '^[0-9]+$' 10
	TSPORT=$(head -n1 "$T/tcpserver.port")
	TSFDS=$(ls "/proc/$TSPID/fd" | wc -l)
}

# ended N: wait (bounded) until tcpserver has seen N connectd processes end.
ended() {
	local end
	end=$(($(date +%s) + 60))
	until [ "$(grep -c '^tcpserver: end [0-9]* status ' "$TSLOG")" -ge "$1" ]; do
		if [ "$(date +%s)" -gt "$end" ]; then
			echo "tcpserver saw $(grep -c '^tcpserver: end ' "$TSLOG") of $1 ends"
			return 1
		fi
		sleep 0.05
	done
}

# assert_all_clean N BYTES: N connectd processes exited 0, each logged a tunnel
# of BYTES up and down ending in EOF, none is left, tcpserver has no zombie and
# no more descriptors than at the start, the target had N good connections.
assert_all_clean() {
	local n=$1 bytes=$2 bad
	ended "$n"
	[ "$(grep -c '^tcpserver: end [0-9]* status 0$' "$TSLOG")" -eq "$n" ] ||
		{ grep '^tcpserver: end ' "$TSLOG" | grep -v 'status 0$' | head; return 1; }
	[ "$(grep -Ec "^client=127\\.0\\.0\\.1:[0-9]+ target=127\\.0\\.0\\.1:$LTPORT status=200 up=$bytes down=$bytes secs=[0-9.]+ end=eof$" \
		"$TSLOG")" -eq "$n" ] || { echo "close lines:"; grep 'end=' "$TSLOG" | grep -v "up=$bytes down=$bytes" | head; return 1; }
	bad=$(grep -v -E '^tcpserver: |^client=' "$TSLOG" | head)
	[ -z "$bad" ] || { echo "unexpected log lines:"; echo "$bad"; return 1; }
	assert_gone 5
	[ -z "$(ps -o pid=,stat= --ppid "$TSPID")" ] || { echo "tcpserver's children:"; ps -o pid,stat,args --ppid "$TSPID"; return 1; }
	[ "$(ls "/proc/$TSPID/fd" | wc -l)" -eq "$TSFDS" ] || { echo "tcpserver's descriptors:"; ls -l "/proc/$TSPID/fd"; return 1; }
	kill -TERM "$LTPID"
	local rc=0
	wait "$LTPID" || rc=$?
	echo "target: $(cat "$T/target.out") (exit $rc)"
	cat "$T/target.err"
	[ "$rc" -eq 0 ] && [ "$(cat "$T/target.out")" = "conns=$n ok=$n bad=0 open=0" ]
}

@test "200 tunnels at once, 20 MiB each way in each, through tcpserver: every byte right, none failed, nothing left" {
	local n=200 bytes=$((20 << 20)) t0 t1 secs
	start_load_target
	start_tcpserver
	t0=$(date +%s%N)
	run "$LOADGEN" client "$TSPORT" "$LTPORT" "$n" "$n" "$bytes" 240
	t1=$(date +%s%N)
	printf '%s\n' "$output" | tail -20
	[ "$status" -eq 0 ]
	[ "${lines[-1]%% secs=*}" = "tunnels=$n ok=$n failed=0" ]
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	echo "# $n tunnels x 20 MiB each way: ${secs} s, $(awk -v s="$secs" -v n="$n" \
		'BEGIN { printf "%.0f", n * 40 / s }') MiB/s through connectd" >&3
	assert_all_clean "$n" "$bytes"
}

@test "5000 short tunnels one after another through tcpserver: none failed, no process, zombie or descriptor left" {
	local n=5000 bytes=4096 t0 t1 secs
	start_load_target
	start_tcpserver
	t0=$(date +%s%N)
	run "$LOADGEN" client "$TSPORT" "$LTPORT" "$n" 1 "$bytes" 170
	t1=$(date +%s%N)
	printf '%s\n' "$output" | tail -20
	[ "$status" -eq 0 ]
	[ "${lines[-1]%% secs=*}" = "tunnels=$n ok=$n failed=0" ]
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	echo "# $n tunnels in a row: ${secs} s, $(awk -v s="$secs" -v n="$n" 'BEGIN { printf "%.0f", n / s }') tunnels/s" >&3
	assert_all_clean "$n" "$bytes"
}
