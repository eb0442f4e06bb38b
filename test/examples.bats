#!/usr/bin/env bats
# examples/: the systemd units are valid, and the man page and README show the
# files as they are. (The xinetd, inetd and tcpserver files are run by
# superserver.bats.)

setup() {
	cd "$BATS_TEST_DIRNAME/.."
}

# squeeze: lines with runs of blanks made one space, trimmed, blank lines and
# comments dropped.
squeeze() {
	tr '\t' ' ' | tr -s ' ' | sed 's/^ //; s/ $//' | grep -v '^#' | grep -v '^$'
}

@test "the systemd units of examples/ pass systemd-analyze verify with nothing to say" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed (apt-get install systemd)"
	[ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null ||
		skip "needs root and unshare (ExecStart= names /usr/local/sbin/connectd, put there in a private mount namespace)"
	[ -x ./connectd ] || { echo "no ./connectd (run make)"; return 1; }
	# verify wants the ExecStart= binary: a private /usr/local/sbin holds it.
	# --man=no: the man page of Documentation= is not installed.
	# shellcheck disable=SC2016
	run unshare --mount --propagation private -- sh -c '
		set -e
		mkdir -p /usr/local/sbin
		mount -t tmpfs -o mode=755 none /usr/local/sbin
		cp ./connectd /usr/local/sbin/connectd
		exec systemd-analyze verify --man=no examples/connectd.socket examples/connectd@.service' 2>&1
	echo "status $status: $output"
	if [ "$status" -ne 0 ] && [[ $output == *"Failed to "*"manager"* || $output == *"Failed to "*"cgroup"* ]]; then
		skip "systemd-analyze cannot run here: $output"
	fi
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the service runs connectd on the socket with stderr to the journal, sandboxed" {
	local f=examples/connectd@.service
	grep -qx 'ExecStart=/usr/local/sbin/connectd.*' "$f"
	for d in StandardInput=socket StandardOutput=socket StandardError=journal DynamicUser=yes \
		NoNewPrivileges=yes CapabilityBoundingSet= ProtectSystem=strict ProtectHome=yes \
		PrivateTmp=yes PrivateDevices=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
		SystemCallArchitectures=native; do
		grep -qx -- "$d" "$f" || { echo "$f lacks $d"; return 1; }
	done
	grep -qx 'Accept=yes' examples/connectd.socket
	grep -qx 'ListenStream=127.0.0.1:3128' examples/connectd.socket
	grep -Eqx 'MaxConnections=[0-9]+' examples/connectd.socket
	grep -Eqx 'MaxConnectionsPerSource=[0-9]+' examples/connectd.socket
}

@test "the man page's EXAMPLES show every file of examples/ line for line" {
	command -v mandoc >/dev/null || skip "mandoc is not installed (apt-get install mandoc)"
	local man f line
	man=$(mandoc -Tascii connectd.8 | sed 's/.\x08//g' | sed -n '/^EXAMPLES/,/^DIAGNOSTICS/p' | squeeze)
	for f in examples/*; do
		while IFS= read -r line; do
			grep -qxF -- "$line" <<<"$man" || { echo "$f: not in the man page: $line"; return 1; }
		done < <(squeeze <"$f")
	done
}

@test "README points at every file of examples/" {
	local f
	for f in examples/*; do
		grep -qF "$f" README.md || { echo "README.md does not name $f"; return 1; }
	done
}
