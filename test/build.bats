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

@test "the bench, at tiny sizes, prints a row for each proxy and a line for each goal of issue 6" {
	command -v tcpserver >/dev/null || skip "tcpserver is not installed (apt-get install ucspi-tcp)"
	# none GREP-ARGS...: no line of the input matches (a plain "! grep" would not fail the test).
	none() { ! grep -q "$@"; }
	# connectd-static is built here when musl-gcc is there, as make bench does;
	# without musl-gcc the path stays empty and the bench says "not built".
	static=$BATS_TEST_TMPDIR/static/connectd-static
	if command -v musl-gcc >/dev/null; then
		mkdir -p "${static%/*}"
		cp ./*.c ./*.h Makefile "${static%/*}"/
		run make -C "${static%/*}" static
		[ "$status" -eq 0 ] || { echo "$output"; return 1; }
		[ -x "$static" ]
	fi
	run env CONNECTD_STATIC="$static" timeout 120 python3 bench/bench.py --runs 1 --bulk-mib 8 --setups 20 --conc 4 --conc-mib 4
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"logs kept"* ]]
	[[ "$output" != *"differ"* ]]
	[[ "$output" != *"not exact"* ]]
	# connectd's row has all ten figures and no note; the direct one, (a) to (d).
	full='(\| +[0-9.]+ +){10}\| +\|$'
	grep -Eq "^\| connectd +$full" <<<"$output"
	grep -Eq "^\| direct +(\| +[0-9.]+ +){8}(\| +- +){2}\| +\|$" <<<"$output"
	# Every other proxy: its figures and no note when its command is there, else
	# the reason in its row and in each goal that needs it (a goal that needs
	# two absent proxies names both). ROW:COMMAND:REASON:HOW THE GOALS NAME IT
	for p in "connectd-static:musl-gcc:not built:connectd-static" \
		"nc relay:nc:not installed:the nc relay's" \
		"Apache:apache2:not installed:Apache's" \
		"Squid:squid:not installed:Squid's" \
		"tinyproxy:tinyproxy:not installed:tinyproxy's"; do
		IFS=: read -r name cmd reason word <<<"$p"
		goals=$(sed -n '/^goals of issue 6:$/,$p' <<<"$output" | grep '^([a-e]) ' | grep -F -- "$word")
		echo "goals that need $name:"
		echo "$goals"
		[ -n "$goals" ]
		if command -v "$cmd" >/dev/null; then
			case $name in
			"nc relay") grep -Eq "^\| nc relay +(\| +- +){4}(\| +[0-9.]+ +){3}(\| +- +){3}\| +\|$" <<<"$output" ;;
			*) grep -Eq "^\| $name +$full" <<<"$output" ;;
			esac
			none -F -- "$name $reason" <<<"$goals"
		else
			grep -Eq "^\| $name .*\| $reason +\|$" <<<"$output"
			none -v -F -- "$name $reason" <<<"$goals"
			none -v -- ': not measured (' <<<"$goals"
		fi
	done
	[ "$(grep -Ec '^\([a-e]\) connectd.*: ([0-9.]+( \(.*\))?, (met|not met)|not measured \(.*\))' <<<"$output")" -eq 8 ]
	if command -v musl-gcc >/dev/null; then
		grep -Eq '^\(c\) the faster build for setups: connectd(-static)?, [0-9]+/s against [0-9]+/s$' <<<"$output"
	else
		grep -Fxq '(c) the faster build for setups: not measured (connectd-static not built)' <<<"$output"
	fi
}

@test "the deterministic stream of the tests and the bench has the right bytes for any window, across each period's end" {
	run timeout 60 python3 test/common.py check-stream
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "check-stream: 100 windows of 10 starts and 10 lengths, send_stream, stream_sha, stream_mismatch: all right" ]
}
