#!/usr/bin/env bats
# Hostile and malformed requests, from one table (test/hostile.cases, at least
# 60 cases: request line, authority, headers, sizes, encodings), each sent
# whole, split in two at every offset, and one byte per read; and good requests
# cut the same ways. test/hostile.py runs connectd once per case and cut, each
# piece sent only after connectd has read the one before, and checks every
# time the exact response, the exit status, the exact log line, and that the
# target got no connection. A failure names the case, its line and the cut.
# test/head.bats has the single cases with timing (408) and limits in detail.

load lib

CASES=$TESTDIR/hostile.cases

# hostile MODE: run the table through test/hostile.py; show what it says.
hostile() {
	run "$PY" "$TESTDIR/hostile.py" --connectd "$CONNECTD" --cases "$CASES" "$1"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == "hostile.py $1: "*", 0 failed, "* ]]
}

@test "the table holds at least 60 hostile requests, each named once" {
	local n
	n=$(grep -cv '^#' "$CASES")
	echo "$n cases"
	[ "$n" -ge 60 ]
	[ "$(grep -v '^#' "$CASES" | cut -f1 | sort | uniq -d)" = "" ]
}

@test "each hostile request sent whole gets its exact refusal, exit status and log line, and no connection" {
	hostile whole
}

@test "each hostile request split in two at every offset gets the same refusal, log line and no connection" {
	hostile split
}

@test "each hostile request sent one byte per read gets the same refusal, log line and no connection" {
	hostile bytes
}

@test "a good request split in two at every offset opens the tunnel, and the bytes after its head reach the target" {
	hostile good-split
}

@test "a good request sent one byte per read opens the tunnel, and the bytes after its head reach the target" {
	hostile good-bytes
}
