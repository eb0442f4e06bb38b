#!/usr/bin/env bats
# The build, the static checks, and the contract kept in step across usage(), man page and README.

setup() {
	cd "$BATS_TEST_DIRNAME/.."
}

# scratch NAME: a copy of the sources and the Makefile in
# $BATS_TEST_TMPDIR/NAME; prints that folder.
scratch() {
	local dir=$BATS_TEST_TMPDIR/$1
	mkdir -p "$dir" && cp ./*.c ./*.h Makefile "$dir"/ || return 1
	echo "$dir"
}

# build_with CC: a scratch copy of the sources (named CC), built with CC.
build_with() {
	local dir
	dir=$(scratch "$1") || return 1
	(cd "$dir" && make CC="$1" WERROR=-Werror CFLAGS="${CFLAGS:--O2 -g}" connectd 2>&1)
}

@test "warnings are errors in make check and the sanitizer build, not in a plain make or make install" {
	run make -n -B connectd
	[ "$status" -eq 0 ]
	[[ "$output" == *" -Wall -Wextra "* ]] && [[ "$output" != *-Werror* ]]
	run make -n -B install
	[[ "$output" != *-Werror* ]]
	run make -n -B check
	[[ "$output" == *"-Wall -Wextra -Werror"* ]]
	run make -n -B san/connectd
	[[ "$output" == *"-Werror"* ]]
}

@test "a change of flags builds the objects again: make after make check drops -Werror" {
	dir=$(scratch flags)
	make -s -C "$dir" WERROR=-Werror connectd
	run make -C "$dir" connectd
	[[ "$output" == *"-c -o connectd.o"* ]] && [[ "$output" != *-Werror* ]]
	run make -C "$dir" connectd
	[[ "$output" != *"-c -o"* ]]
}

@test "connectd builds with gcc under -Wall -Wextra -Werror and prints no warning" {
	command -v gcc >/dev/null || skip "gcc is not installed"
	run build_with gcc
	[ "$status" -eq 0 ]
	[[ "$output" != *warning* ]]
	[ -x "$BATS_TEST_TMPDIR/gcc/connectd" ]
}

@test "connectd builds with clang under -Wall -Wextra -Werror and prints no warning, every exit marked _Noreturn" {
	command -v clang >/dev/null || skip "clang is not installed (apt-get install clang)"
	CFLAGS="-O2 -g -Wmissing-noreturn" run build_with clang
	[ "$status" -eq 0 ]
	[[ "$output" != *warning* ]]
	[ -x "$BATS_TEST_TMPDIR/clang/connectd" ]
}

@test "cppcheck finds nothing in the sources, the unit tests and the fuzzers" {
	command -v cppcheck >/dev/null || skip "cppcheck is not installed (apt-get install cppcheck)"
	# sandbox.c has 13 #if configurations (architectures, the sanitizer and
	# valgrind builds): check them all, not cppcheck's default 12.
	run cppcheck --quiet --enable=warning,performance,portability --std=c11 --max-configs=32 \
		--error-exitcode=1 -I. ./*.c test/*.c fuzz/*.c
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the man page is clean under mandoc -Tlint" {
	command -v mandoc >/dev/null || skip "mandoc is not installed (apt-get install mandoc)"
	run mandoc -Tlint -W warning connectd.8
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the man page's SYNOPSIS is the text that usage() prints" {
	command -v mandoc >/dev/null || skip "mandoc is not installed (apt-get install mandoc)"
	synopsis=$(MANWIDTH=400 mandoc -Tascii -O width=400 connectd.8 | sed 's/.\x08//g' |
		sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \n' '  ' | sed 's/^ *//; s/ *$//')
	run sh -c './connectd -Z 2>&1 >/dev/null'
	[ "$status" -eq 100 ]
	usage=${output#*usage: }
	echo "man: $synopsis"
	echo "usage: $usage"
	[ "$synopsis" = "$usage" ]
}

@test "README names the two set-up commands and every option of the synopsis" {
	grep -q 'make run' README.md
	grep -q 'make check' README.md
	run sh -c './connectd -Z 2>&1 >/dev/null'
	for opt in $(printf '%s\n' "$output" | grep -o '\[-[0-9A-Za-z]*' | tr -d '[-' | fold -w1 | sort -u); do
		grep -q -- "-$opt" README.md || { echo "README lacks -$opt"; return 1; }
	done
}

@test "make install and uninstall put connectd and its man page under DESTDIR and take them away" {
	dest="$BATS_TEST_TMPDIR/dest"
	run make install DESTDIR="$dest" PREFIX=/usr/local
	[ "$status" -eq 0 ]
	[ -x "$dest/usr/local/sbin/connectd" ]
	[ -f "$dest/usr/local/share/man/man8/connectd.8" ]
	cmp connectd "$dest/usr/local/sbin/connectd"
	run make uninstall DESTDIR="$dest" PREFIX=/usr/local
	[ "$status" -eq 0 ]
	[ ! -e "$dest/usr/local/sbin/connectd" ]
	[ ! -e "$dest/usr/local/share/man/man8/connectd.8" ]
}

@test "make static builds a connectd with no dynamic loader that answers like the dynamic one" {
	command -v musl-gcc >/dev/null || skip "musl-gcc is not installed (apt-get install musl-tools)"
	dir=$(scratch static)
	run make -C "$dir" static
	[ "$status" -eq 0 ]
	[[ "$output" != *warning* ]]
	run readelf -l "$dir/connectd-static"
	[[ "$output" != *INTERP* ]]
	run sh -c "'$dir/connectd-static' -Z 2>&1 >/dev/null"
	[ "$status" -eq 100 ]
	[[ "$output" == "connectd: -Z: unknown option; usage: connectd [-46]"* ]]
	req=$'CONNECT 192.0.2.1:22 HTTP/1.1\r\nHost: x\r\n\r\n'
	[ "$(printf '%s' "$req" | "$dir/connectd-static" 2>/dev/null | head -n1)" = "$(printf '%s' "$req" | ./connectd 2>/dev/null | head -n1)" ]
	run sh -c "printf '%s' '$req' | '$dir/connectd-static' 2>&1 >/dev/null"
	[ "$status" -eq 1 ]
	[ "$output" = "client=- target=192.0.2.1:22 status=403 error=http_request_denied" ]
}

@test "the bench, at tiny sizes, prints every row with its spread, the ratios to the bare relay and to direct, and a line for each goal" {
	command -v tcpserver >/dev/null || skip "tcpserver is not installed (apt-get install ucspi-tcp)"
	# The bench's programs and connectd-static are built in a copy, as make
	# bench builds them; without musl-gcc the static paths stay empty and the
	# bench says "not built".
	local dir static= relay_static= musl=
	dir=$(scratch bench)
	mkdir -p "$dir/bench" && cp bench/*.c "$dir/bench/"
	targets="bench/load bench/relay"
	if command -v musl-gcc >/dev/null; then
		musl=1 targets="$targets static bench/relay-static"
		static=$dir/connectd-static relay_static=$dir/bench/relay-static
	fi
	run make -C "$dir" WERROR=-Werror $targets
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	run env CONNECTD_STATIC="$static" BENCH_RELAY_STATIC="$relay_static" BENCH_LOAD="$dir/bench/load" \
		BENCH_RELAY="$dir/bench/relay" timeout 300 python3 bench/bench.py --runs 2 --bulk-mib 8 --setups 20 \
		--conc 4 --conc-mib 4
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"logs kept"* ]]
	[[ "$output" != *"failed"* ]]
	[[ "$output" != *"not exact"* ]]
	[[ "$output" == *"load average (1, 5, 15 min) before: "*", after: "* ]]
	# A figure: its median, and the spread of the two rounds.
	n='[0-9.]+ \[[0-9.]+-[0-9.]+\]'
	# Under tcpserver every figure, CPU us among them; a daemon has no CPU us.
	all="(\| +$n +){9}\| +\|$"
	daemon="(\| +$n +){5}\| +- +(\| +$n +){3}\| +\|$"
	setups="(\| +- +){2}(\| +$n +){4}(\| +- +){3}\| +\|$"
	grep -Eq "^\| direct +(\| +$n +){5}\| +- +\| +$n +(\| +- +){2}\| +\|$" <<<"$output"
	grep -Eq "^\| connectd +$all" <<<"$output"
	grep -Eq "^\| bare relay \(glibc\) +$all" <<<"$output"
	# Every other row: its figures and no note when its program is there, else
	# the reason in its row and in each goal that needs it.
	# ROW;FIGURES;REASON WHEN ABSENT;PRESENT (not empty)
	for r in "connectd-static;$all;not built;$musl" "bare relay (static);$all;not built;$musl" \
		"connectd-static -u nobody;$setups;not built;$musl" \
		"connectd-static, localhost;$setups;not built;$musl" \
		"connectd-static, localhost, 256 -A;$setups;not built;$musl" \
		"connectd-static -P /bin/true;$setups;not built;$musl" \
		"connectd-static -P checkpassword;$setups;not built;$musl" \
		"Apache;$daemon;not installed;$(command -v apache2)" "Squid;$daemon;not installed;$(command -v squid)" \
		"tinyproxy;$daemon;not installed;$(command -v tinyproxy)"; do
		IFS=';' read -r name figures reason present <<<"$r"
		row=$(sed 's/[()]/\\&/g' <<<"$name")
		if [ -n "$present" ]; then
			grep -Eq "^\| $row +$figures" <<<"$output"
		else
			grep -Eq "^\| $row +(\| +- +){9}\| $reason +\|$" <<<"$output"
		fi
	done
	# The ratios: connectd's to its bare relay and to direct, each with its spread.
	grep -Eq "^\| connectd +(\| +$n +){6}\|$" <<<"$output"
	goals=$(sed -n '/^goals:$/,$p' <<<"$output")
	echo "goals:"
	echo "$goals"
	# A goal with a limit: the ratio, its spread, the two figures, met or not;
	# or not measured, naming each row that is missing and why.
	fig='[0-9.]+ \[[0-9.]+-[0-9.]+\] \([0-9.e+]+ vs [0-9.e+]+\), (met|not met)'
	[ "$(grep -Ec "^\([123]\) .*: ($fig|not measured \(.+\))$" <<<"$goals")" -eq 7 ]
	grep -Eq "^\(1\) setups: connectd >= 0.95 x the bare relay \(glibc\): $fig$" <<<"$goals"
	grep -Eq "^\(2\) bulk up: connectd >= 0.95 x the bare relay \(glibc\): $fig$" <<<"$goals"
	grep -Eq "^\(2\) bulk down: connectd >= 0.95 x the bare relay \(glibc\): $fig$" <<<"$goals"
	# The CPU ratios behind (1), where both CPU times were measured: in form.
	cpu="^\(1\) CPU per setup, the bare relay \((glibc|static)\)'s over connectd(-static)?'s \(1: the same cost\): [0-9.]+ \[[0-9.]+-[0-9.]+\] \([0-9]+ vs [0-9]+ us\)$"
	[ "$(grep -c '^(1) CPU' <<<"$goals")" -eq "$(grep -Ec "$cpu" <<<"$goals")" ]
	grep -Eq "^\(1\) CPU per setup, the bare relay \(glibc\)'s" <<<"$goals"
	if [ -n "$musl" ]; then
		[ "$(grep -Ec "^\([12]\) .*connectd-static.*: $fig$" <<<"$goals")" -eq 3 ]
		grep -Eq "^\(i\) names: 256 -A rules x none, setups: [0-9.]+ \[[0-9.]+-[0-9.]+\], too few rounds to tell the noise$" <<<"$goals"
		grep -Eq "^\(ii\) -P, setups x connectd-static without: -P /bin/true $n \([0-9]+/s\); -P checkpassword $n \([0-9]+/s\)$" <<<"$goals"
	else
		[ "$(grep -Fc "connectd-static not built" <<<"$goals")" -eq 4 ]
		grep -Fxq "(i) names: 256 -A rules x none, setups: not measured (not built)" <<<"$goals"
	fi
	if command -v tinyproxy >/dev/null && [ -n "$musl" ]; then
		grep -Eq "^\(3\) memory: connectd-static PSS <= 0.6 x tinyproxy's: $fig$" <<<"$goals"
	else
		grep -Eq "^\(3\) memory: connectd-static PSS <= 0.6 x tinyproxy's: not measured \(.*(tinyproxy not installed|connectd-static not built).*\)$" <<<"$goals"
	fi
	if command -v apache2 >/dev/null && command -v squid >/dev/null && [ -n "$musl" ]; then
		grep -Eq "^\(4\) peers: setups x the bare relay \(static\): Apache [0-9.]+; Squid [0-9.]+$" <<<"$goals"
	fi
	command -v apache2 >/dev/null || grep -Eq "^\(4\) peers: .*Apache not measured \(not installed\)" <<<"$goals"
	command -v squid >/dev/null || grep -Eq "^\(4\) peers: .*Squid not measured \(not installed\)" <<<"$goals"
}

@test "the deterministic stream of the tests and the bench has the right bytes for any window, across each period's end" {
	run timeout 60 python3 test/common.py check-stream
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "check-stream: 100 windows of 10 starts and 10 lengths, send_stream, stream_sha, stream_mismatch: all right" ]
}
