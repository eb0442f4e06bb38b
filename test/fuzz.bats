#!/usr/bin/env bats
# libFuzzer over the request parser, the PROXY header parser, the
# command-line parsers and the name rules (fuzz/), a few seconds each
# (FUZZ_CHECK_SECS, default 5), so that every change is fuzzed; make fuzz runs them longer. The repository's corpus (regression
# cases included) is read, never written: new inputs go to a scratch copy in
# the test's directory. A crash, a leak or a timeout fails the test, and its
# input is shown.

setup() {
	cd "$BATS_TEST_DIRNAME/.." || return 1
	[ -x fuzz/fuzz_parse ] && [ -x fuzz/fuzz_args ] && [ -x fuzz/fuzz_proxyhdr ] && [ -x fuzz/fuzz_names ] ||
		skip "fuzzers not built (make fuzz-build needs clang and libclang-rt-14-dev)"
}

# fuzz TARGET: run it for FUZZ_CHECK_SECS on a scratch corpus; the corpus in
# the repository must be unchanged afterwards.
fuzz() {
	local before after
	before=$(find "fuzz/corpus/${1#fuzz_}" -type f | sort | xargs sha256sum | sha256sum)
	run env FUZZ_OUT="$BATS_TEST_TMPDIR/out" fuzz/run "${FUZZ_CHECK_SECS:-5}" "$1"
	printf '%s\n' "$output"
	printf '# %s\n' "${lines[0]}" >&3
	for f in "$BATS_TEST_TMPDIR/out/$1"/crash-* "$BATS_TEST_TMPDIR/out/$1"/leak-* \
		"$BATS_TEST_TMPDIR/out/$1"/timeout-*; do
		[ -e "$f" ] || continue
		echo "input that failed ($f):"
		od -c "$f" | head -20
	done
	[ "$status" -eq 0 ]
	after=$(find "fuzz/corpus/${1#fuzz_}" -type f | sort | xargs sha256sum | sha256sum)
	[ "$before" = "$after" ] || { echo "fuzz/corpus/${1#fuzz_} changed"; return 1; }
}

@test "every input of the corpus, regression cases included, runs clean through every fuzzer" {
	run fuzz/fuzz_parse -runs=0 fuzz/corpus/parse
	[ "$status" -eq 0 ] || { printf '%s\n' "$output" | tail -30; return 1; }
	run fuzz/fuzz_args -runs=0 fuzz/corpus/args
	[ "$status" -eq 0 ] || { printf '%s\n' "$output" | tail -30; return 1; }
	run fuzz/fuzz_proxyhdr -runs=0 fuzz/corpus/proxyhdr
	[ "$status" -eq 0 ] || { printf '%s\n' "$output" | tail -30; return 1; }
	run fuzz/fuzz_names -runs=0 fuzz/corpus/names
	[ "$status" -eq 0 ] || { printf '%s\n' "$output" | tail -30; return 1; }
}

@test "the request parser survives a short libFuzzer run (split reads, log escaping checked)" {
	fuzz fuzz_parse
}

@test "the port spec, CIDR and number parsers and the address rules survive a short libFuzzer run" {
	fuzz fuzz_args
}

@test "the PROXY header parser survives a short libFuzzer run (every prefix, valid headers built and split)" {
	fuzz fuzz_proxyhdr
}

@test "the -A/-D pattern parser and the name matcher survive a short libFuzzer run against a label-list reference" {
	fuzz fuzz_names
}
