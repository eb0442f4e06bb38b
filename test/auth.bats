#!/usr/bin/env bats
# Proxy authentication, -P checker and -r realm: Basic credentials, judged by
# a separate program through the checkpassword interface, after the head is
# parsed and before anything about the target; the checker's contract
# (descriptor 3, its other descriptors, its user, its one argument, its
# deadline); what is logged and what never is (the password); the example
# checker and the fail2ban filter of examples/; and real clients: curl,
# proxytunnel and python's http.client, with a right and a wrong password.

load lib
load super

EXAMPLES=$(cd "$TESTDIR/.." && pwd)/examples
CHECKER=$EXAMPLES/checkpassword
SECRET=Zq8-only-here-Xw3

setup() {
	lib_setup
	# Run as root, connectd and its checker become nobody, who must reach
	# the files of the test under the run's folder (mode 700 by bats).
	[ "$(id -u)" -ne 0 ] || chmod o+x "$BATS_RUN_TMPDIR"
}

# b64 TEXT: its base64 on one line.
b64() {
	printf '%s' "$1" | base64 -w0
}

# auth_req AUTHORITY VALUE...: a CONNECT request (escaped for the harness)
# with one Proxy-Authorization field per VALUE, as it is.
auth_req() {
	local a=$1 v
	shift
	printf 'CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n' "$a" "$a"
	for v; do
		printf 'Proxy-Authorization: %s\\r\\n' "$v"
	done
	printf '\\r\\n'
}

# basic_req AUTHORITY USER:PASSWORD: a request with those Basic credentials.
basic_req() {
	auth_req "$1" "Basic $(b64 "$2")"
}

# users NAME:PASSWORD...: $T/users for the example checker, each hash made
# as the checker's comments say (openssl passwd -6).
users() {
	local up
	need openssl
	: >"$T/users"
	for up; do
		printf '%s:%s\n' "${up%%:*}" "$(printf '%s\n' "${up#*:}" | openssl passwd -6 -stdin)" >>"$T/users"
	done
}

# recorder EXIT: $T/checker, a checker that reads descriptor 3 to its end,
# writes down in $T/ran/ how it was run, and exits EXIT. Written in Python,
# which keeps no descriptor of its own open, so that the list is connectd's.
recorder() {
	mkdir -p "$T/ran"
	chmod 777 "$T/ran"
	cat >"$T/checker" <<-EOF
		#!$PY
		import os, sys
		d = "$T/ran"
		fds = []
		for fd in range(256):
		    try:
		        os.fstat(fd)
		        fds.append(str(fd))
		    except OSError:
		        pass
		data = b""
		while True:
		    b = os.read(3, 4096)
		    if not b:
		        break
		    data += b
		def put(name, b):
		    with open(os.path.join(d, name), "wb") as f:
		        f.write(b)
		put("fd3", data)
		# connectd's environ is not readable by its -u user: the memory test reads it.
		for name, path in (("cmdline", "/proc/self/cmdline"), ("environ", "/proc/self/environ"),
		                   ("pcmdline", "/proc/%d/cmdline" % os.getppid())):
		    put(name, open(path, "rb").read())
		info = ["fds=" + " ".join(fds), "argv=" + "|".join(sys.argv),
		        "uid=%d" % os.getuid(), "gid=%d" % os.getgid(),
		        "groups=" + " ".join(str(g) for g in os.getgroups()),
		        "pgid=%s" % ("own" if os.getpgid(0) == os.getpid() else "other")]
		for fd in (0, 1, 2):
		    info.append("fd%d=%s" % (fd, os.readlink("/proc/self/fd/%d" % fd)))
		put("info", ("\n".join(info) + "\n").encode())
		sys.exit($1)
	EOF
	chmod 755 "$T/checker"
}

# ran KEY: a value the recorder wrote down.
ran() {
	sed -n "s/^$1=//p" "$T/ran/info"
}

# script BODY: $T/checker, a shell checker with this body.
script() {
	printf '#!/bin/sh\n%s\n' "$1" >"$T/checker"
	chmod 755 "$T/checker"
}

# not_run: the recorder was never run.
not_run() {
	[ ! -e "$T/ran/info" ] || { echo "the checker ran:"; cat "$T/ran/info"; return 1; }
}

# details TEXT: the refusal's Proxy-Status details are TEXT.
details() {
	grep -qF "; details=\"$1\"" "$T/out" || { echo "no details=\"$1\" in:"; cat -A "$T/out"; return 1; }
}

# unchecked [--user U] CODE ERROR DETAILS REQUEST: with the recorder as -P,
# REQUEST for 127.0.0.1:@PORT@ gets that refusal (as refused checks it, the
# user logged if given) with these Proxy-Status details, and the checker does
# not run.
unchecked() {
	local user=()
	if [ "$1" = --user ]; then
		user=(--user "$2")
		shift 2
	fi
	recorder 0
	refused "${user[@]}" --target 127.0.0.1:@PORT@ "$1" "$2" "$4" -P "$T/checker" -a 127.0.0.1 -t 5 @PORT@
	details "$3"
	not_run
}

# alice_through [launcher options]: alice's right credentials, judged by
# $T/checker, open a tunnel through connectd (launched with these options)
# to a target that sends "ok\n": exactly the 200 and "ok\n", exit 0.
alice_through() {
	start_target --send 'ok\n'
	start_proxy "$@" -- -P "$T/checker" -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" alice:secret)" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

# ------------------------------------------------------------ the options

@test "-P naming no file is a usage error naming it" {
	usage_error 'connectd: -P: no such file: /nonexistent/checker' -P /nonexistent/checker
}

@test "-P naming a file that is not executable is a usage error" {
	: >"$T/plain"
	chmod 644 "$T/plain"
	usage_error "connectd: -P: not executable: $T/plain" -P "$T/plain"
}

@test "-P naming a folder is a usage error" {
	usage_error "connectd: -P: not a regular file: $T" -P "$T"
}

@test "-P naming a checker that the -u user may not run is a usage error, as root" {
	need_root
	script 'exit 0'
	chmod 700 "$T/checker"
	usage_error "connectd: -P: not executable: $T/checker" -P "$T/checker" -u nobody
}

@test "-r without -P is a usage error: authentication is not on" {
	usage_error 'connectd: -r: given without -P: office' -r office
}

@test "-r with a control character is a usage error, the realm escaped in the message" {
	script 'exit 0'
	usage_error 'connectd: -r: not printable ASCII: a\x0ab' -P "$T/checker" -r $'a\nb'
}

@test "-r with a byte over 0x7e is a usage error" {
	script 'exit 0'
	usage_error 'connectd: -r: not printable ASCII: caf\xc3\xa9' -P "$T/checker" -r $'caf\xc3\xa9'
}

@test "-r longer than 128 characters is a usage error; 128 are fine" {
	script 'exit 0'
	local r128 r129
	r128=$(repeat r 128)
	r129=${r128}r
	usage_error "connectd: -r: not 1 to 128 characters: $r129" -P "$T/checker" -r "$r129"
	refused --target 127.0.0.1:@PORT@ 407 http_request_denied "$(connect_req 127.0.0.1:@PORT@)" \
		-P "$T/checker" -r "$r128" -a 127.0.0.1 -t 5 @PORT@
	grep -qF $'Proxy-Authenticate: Basic realm="'"$r128"$'"\r\n' "$T/out"
}

@test "-r with quotes and a backslash: the 407 carries them escaped, as a quoted-string" {
	recorder 0
	refused --target 127.0.0.1:@PORT@ 407 http_request_denied "$(connect_req 127.0.0.1:@PORT@)" \
		-P "$T/checker" -r 'the "lab" \ east' -a 127.0.0.1 -t 5 @PORT@
	not_run
	grep -qF $'\r\nProxy-Authenticate: Basic realm="the \\"lab\\" \\\\ east"\r\n' "$T/out"
}

# ------------------------------------------- the order of checks, and 407

@test "without credentials: 407 with the default realm, before the port is checked, and the checker does not run" {
	recorder 0
	refused --target 127.0.0.1:1 407 http_request_denied "$(connect_req 127.0.0.1:1)" \
		-P "$T/checker" -a 127.0.0.1 -t 5 @PORT@
	grep -qF $'\r\nProxy-Authenticate: Basic realm="connectd"\r\n' "$T/out"
	details "credentials required"
	not_run
}

@test "without credentials, a name is not looked up and a denied address not judged: 407 all the same" {
	recorder 0
	private_dns nxdomain
	refused --target no-such-name.test:443 407 http_request_denied "$(connect_req no-such-name.test:443)" \
		-P "$T/checker" -d 127.0.0.0/8 -t 5 443
	not_run
	no_dns_query
}

@test "credentials of another scheme get 407, and the checker does not run" {
	unchecked 407 http_request_denied "credentials not of the Basic scheme" "$(auth_req 127.0.0.1:@PORT@ 'Bearer abc.def')"
}

@test "Basic credentials that are not strict base64 get 407, no user logged, and the checker does not run" {
	unchecked 407 http_request_denied "credentials not in strict base64" \
		"$(auth_req 127.0.0.1:@PORT@ 'Basic YWxpY2U6c2VjcmV0dw')"
}

@test "credentials without a colon get 407 and log no user: what was sent may be a password" {
	unchecked 407 http_request_denied "credentials without a colon" \
		"$(auth_req 127.0.0.1:@PORT@ "Basic $(b64 "$SECRET")")"
}

@test "a control character in the password gets 407, the user logged, and the checker does not run" {
	unchecked --user alice 407 http_request_denied "control character in credentials" \
		"$(basic_req 127.0.0.1:@PORT@ $'alice:pa\tss')"
}

@test "two Proxy-Authorization fields get 400, and the checker does not run" {
	local v
	v="Basic $(b64 alice:secret)"
	unchecked 400 http_request_error "two Proxy-Authorization fields" "$(auth_req 127.0.0.1:@PORT@ "$v" "$v")"
}

@test "without -P, Proxy-Authorization fields are ignored: the tunnel opens and no user is logged" {
	local v
	v="Basic $(b64 alice:secret)"
	accepted "$(auth_req 127.0.0.1:@PORT@ "$v" "$v")"
}

@test "credentials the checker rejects get 407 with the user logged, and nothing reaches the target" {
	recorder 1
	refused --user alice --target 127.0.0.1:@PORT@ 407 http_request_denied "$(basic_req 127.0.0.1:@PORT@ alice:wrong)" \
		-P "$T/checker" -a 127.0.0.1 -t 5 @PORT@
	details "credentials rejected"
	[ -e "$T/ran/info" ]
}

@test "credentials the checker accepts open the tunnel, with the user on the decision and close lines" {
	recorder 0
	alice_through
	assert_tunnel_log --user alice 0 3 eof
}

@test "accepted credentials for a port that is not allowed get 403, logged with the user: the rules come after" {
	recorder 0
	refused --user alice --target 127.0.0.1:1 403 http_request_denied "$(basic_req 127.0.0.1:1 alice:secret)" \
		-P "$T/checker" -a 127.0.0.1 -t 5 @PORT@
	details "port not allowed"
	[ -e "$T/ran/info" ]
}

@test "the user name is logged escaped: spaces, quotes and bytes past ASCII cannot split a log line" {
	recorder 1
	refused --user 'a\x20b\x22c\x5cd\xc3\xa9\x20status=200' --target 127.0.0.1:@PORT@ 407 http_request_denied \
		"$(basic_req 127.0.0.1:@PORT@ $'a b"c\\d\xc3\xa9 status=200:pw')" -P "$T/checker" -a 127.0.0.1 -t 5 @PORT@
}

# ---------------------------------------------------- the checker's contract

@test "the checker reads user, password and time, each ended by NUL, on descriptor 3, and is given one argument: the path of true" {
	recorder 0
	local now
	start_target --send 'ok\n'
	start_proxy -- -P "$T/checker" -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" 'alice:pa:ss w0rd')" shut
	assert_out "${OK200}ok"$'\n'
	now=$(date +%s)
	od -c "$T/ran/fd3"
	"$PY" - "$T/ran/fd3" "$now" <<-'EOF'
		import re, sys
		data = open(sys.argv[1], "rb").read()
		m = re.fullmatch(rb"alice\0pa:ss w0rd\0([0-9]{10})\0", data)
		assert m, data
		assert abs(int(m.group(1)) - int(sys.argv[2])) <= 5, (m.group(1), sys.argv[2])
	EOF
	[ "$(ran argv)" = "$T/checker|/bin/true" ]
}

@test "the checker has /dev/null on 0 and 1, connectd's stderr on 2, descriptor 3, no other, and a process group of its own" {
	recorder 0
	start_target --send 'ok\n'
	start_proxy -- -P "$T/checker" -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" alice:secret)" shut
	assert_exit 0
	cat "$T/ran/info"
	[ "$(ran fds)" = "0 1 2 3" ]
	[ "$(ran fd0)" = /dev/null ]
	[ "$(ran fd1)" = /dev/null ]
	[ "$(ran fd2)" = "$PDIR/stderr" ]
	[ "$(ran pgid)" = own ]
}

@test "with the client socket on descriptor 2 (inetd), the checker's descriptor 2 is /dev/null" {
	recorder 0
	private_syslog
	alice_through --stderr socket
	[ "$(ran fd2)" = /dev/null ]
	[ "$(ran fds)" = "0 1 2 3" ]
}

@test "with descriptor 2 closed, the checker's descriptor 2 is /dev/null, not connectd's syslog socket" {
	recorder 0
	private_syslog
	alice_through --stderr closed
	[ "$(ran fd2)" = /dev/null ]
}

@test "run as root, the checker runs as the -u user with that user's group only" {
	need_root
	recorder 0
	start_target --send 'ok\n'
	start_proxy -- -P "$T/checker" -u daemon -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" alice:secret)" shut
	assert_exit 0
	[ "$(ran uid)" = "$(id -u daemon)" ]
	[ "$(ran gid)" = "$(id -g daemon)" ]
	[ "$(ran groups)" = "$(id -g daemon)" ] || [ -z "$(ran groups)" ]
}

@test "credentials of 499 bytes reach the checker whole, in 511 bytes on descriptor 3; 500 bytes get 407 and no checker" {
	recorder 0
	local pw
	pw=$(repeat p 497)
	start_target --send 'ok\n'
	start_proxy -- -P "$T/checker" -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" "u:$pw")" shut
	assert_out "${OK200}ok"$'\n'
	[ "$(wc -c <"$T/ran/fd3")" -eq 511 ]
	[ "$(head -c 499 "$T/ran/fd3" | tr '\0' :)" = "u:$pw" ]
	rm "$T/ran/info"
	unchecked --user u 407 http_request_denied "credentials too long" "$(basic_req 127.0.0.1:@PORT@ "u:${pw}p")"
}

# checker_failed LINE [connectd arguments]: alice's credentials, judged by
# $T/checker under connectd with these arguments before its own, get a 500,
# exit 111, and the log lines LINE and the 500's.
checker_failed() {
	local line=$1
	shift
	start_target --wait-eof
	start_proxy -- -P "$T/checker" "$@" -a 127.0.0.1 -t 5 "$TPORT"
	client --timeout 20 "send=$(basic_req "127.0.0.1:$TPORT" alice:secret)" shut
	assert_refusal 500 proxy_internal_error
	assert_exit 111
	assert_log "$(re "$line")" \
		"client=$(re "$CLOCAL") user=alice target=127\.0\.0\.1:$TPORT status=500 error=proxy_internal_error"
}

@test "a checker that exits 2 is a 500, exit 111, and a line saying so; the target gets nothing" {
	script 'exit 2'
	checker_failed 'connectd: -P: the checker exited with 2'
	assert_target_untouched
}

@test "a checker that exits 111 (a temporary problem) is a 500" {
	script 'exit 111'
	checker_failed 'connectd: -P: the checker exited with 111'
}

@test "a checker killed by a signal is a 500" {
	script 'kill -KILL $$'
	checker_failed 'connectd: -P: the checker was killed by signal 9'
	assert_target_untouched
}

@test "a checker that does not exit within -c is killed with all it started: 500 after about -c seconds, nothing left" {
	script 'sleep 60 &
exec sleep 60'
	checker_failed 'connectd: -P: the checker did not exit within 1 s; killed' -c 1
	echo "elapsed: $(cat "$PDIR/elapsed")"
	"$PY" -c 'import sys; e = float(open(sys.argv[1]).read()); sys.exit(not 1.0 <= e < 4.5)' "$PDIR/elapsed"
	assert_gone
	assert_target_untouched
}

@test "a SIGTERM while the checker runs ends it and connectd at once: the decision line says status=- end=signal, with the user" {
	mkdir -p "$T/ran"
	chmod 777 "$T/ran"
	script "touch $T/ran/started
sleep 60 &
exec sleep 60"
	start_target --wait-eof
	start_proxy -- -P "$T/checker" -c 30 -a 127.0.0.1 -t 5 "$TPORT"
	client_bg --timeout 20 "send=$(basic_req "127.0.0.1:$TPORT" alice:secret)" waiteof
	wait_file "$T/ran/started" 10
	connectd_pid
	kill -TERM "$DPID"
	client_wait
	assert_exit 111
	assert_log "client=$(re "$CLOCAL") user=alice target=127\.0\.0\.1:$TPORT status=- end=signal"
	[ ! -s "$T/out" ]
	"$PY" -c 'import sys; sys.exit(not float(open(sys.argv[1]).read()) < 10)' "$PDIR/elapsed"
	assert_gone
	assert_target_untouched
}

@test "a checker that exits at once leaves nothing running behind it in its process group" {
	script 'sleep 60 &
exit 0'
	alice_through
	assert_gone
}

# ------------------------------------------------ the password, nowhere

# password_nowhere FILE...: the password, and the base64 that carried it, are
# in no byte of these files, which must be there.
password_nowhere() {
	local f n
	for f; do
		[ -e "$f" ] || { echo "no $f"; return 1; }
		for n in "$SECRET" "$(b64 "carol:$SECRET")"; do
			if grep -aqF -- "$n" "$f"; then
				echo "$f holds $n:"
				tr '\0' ' ' <"$f" | head -c 2000
				return 1
			fi
		done
	done
}

@test "the password is in no log line, no answer, and not in the arguments or environment of connectd or the checker" {
	recorder 0
	start_target --send 'ok\n'
	start_proxy -- -P "$T/checker" -l stderr -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" "carol:$SECRET")" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	grep -q 'user=carol ' "$PDIR/stderr"
	grep -aqF "$SECRET" "$T/ran/fd3"	# the checker did get it
	password_nowhere "$PDIR/stderr" "$T/out" "$T/ran/cmdline" "$T/ran/environ" "$T/ran/pcmdline"
	grep -aqF "$T/checker" "$T/ran/pcmdline"	# that was connectd's
}

@test "a rejected password is in no syslog line and no answer, and not in the arguments or environment of connectd or the checker" {
	recorder 1
	private_syslog
	start_target --wait-eof
	start_proxy -- -P "$T/checker" -l syslog -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" "carol:$SECRET")" shut
	assert_refusal 407 http_request_denied
	assert_exit 1
	syslog_sync
	grep -q 'connectd\[[0-9]*\]: client=.* user=carol .*status=407' "$T/syslog/messages"
	password_nowhere "$T/syslog/messages" "$PDIR/stderr" "$T/out" "$T/ran/cmdline" \
		"$T/ran/environ" "$T/ran/pcmdline"
	assert_target_untouched
}

@test "once the checker has them, neither the password nor its base64 is anywhere in connectd's memory, arguments or environment" {
	need_root
	users "carol:$SECRET"
	start_target --send 'ok\n' --wait-eof
	start_proxy --env "CONNECTD_USERS=$T/users" -- -P "$CHECKER" -a 127.0.0.1 -t 5 "$TPORT"
	client_bg --timeout 20 "send=$(basic_req "127.0.0.1:$TPORT" "carol:$SECRET")" waithead \
		"mark=$T/open" "waitfile=$T/go" shut
	wait_file "$T/open" 10
	connectd_pid
	run "$PY" - "$DPID" "$SECRET" "$(b64 "carol:$SECRET")" "Proxy-Authorization:" <<-'EOF'
		import sys
		pid, needles = sys.argv[1], [a.encode() for a in sys.argv[2:]]
		found, scanned = {}, 0
		with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
		    for line in maps:
		        f = line.split()
		        lo, hi = (int(x, 16) for x in f[0].split("-"))
		        if f[1][0] != "r" or hi - lo > 1 << 28 or len(f) > 5 and f[5].startswith(("[vvar", "[vsyscall")):
		            continue
		        try:
		            mem.seek(lo)
		            data = mem.read(hi - lo)
		        except OSError:
		            continue
		        scanned += len(data)
		        for n in needles:
		            if n in data:
		                found.setdefault(n.decode(), []).append(f[0] + " " + (f[5] if len(f) > 5 else ""))
		print("scanned=%d bytes of %s" % (scanned, open("/proc/%s/comm" % pid).read().strip()))
		for n, where in found.items():
		    print("found %s in %s" % (n, ", ".join(where)))
	EOF
	cat "/proc/$DPID/cmdline" >"$T/cmdline"
	cat "/proc/$DPID/environ" >"$T/environ"
	release
	echo "$output"
	password_nowhere "$T/cmdline" "$T/environ"
	grep -aq CONNECTD_USERS= "$T/environ"
	# The scan is real: it finds what is left of the head around the wiped value.
	[[ $output == *"found Proxy-Authorization: in "* ]]
	[[ $output != *"found $SECRET "* ]]
	[[ $output != *"found $(b64 "carol:$SECRET") "* ]]
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
}

# ---------------------------------------------------- the example checker

# example USER PASSWORD [FILE]: run the example checker as connectd would,
# "USER\0PASSWORD\0TIME\0" on descriptor 3; sets status and output.
example() {
	need perl
	printf '%s\0%s\0%s\0' "$1" "$2" "$(date +%s)" >"$T/fd3"
	run env CONNECTD_USERS="${3:-$T/users}" "$CHECKER" /bin/echo accepted 3<"$T/fd3"
	echo "$1/$2: status $status: $output"
}

@test "the example checker runs its argument and exits 0 for a right password, 1 for a wrong one or an unknown user" {
	users alice:secret 'bob:pa:ss word'
	example alice secret
	[ "$status" -eq 0 ] && [ "$output" = accepted ]
	example bob 'pa:ss word'
	[ "$status" -eq 0 ] && [ "$output" = accepted ]
	example alice Secret
	[ "$status" -eq 1 ] && [ -z "$output" ]
	example alice ''
	[ "$status" -eq 1 ]
	example carol secret	# alice's password: an unknown user is checked against the first hash
	[ "$status" -eq 1 ]
	example 'alice*' secret
	[ "$status" -eq 1 ]
	example alic secret
	[ "$status" -eq 1 ]
}

@test "the example checker knows yescrypt and bcrypt hashes, skips comments, ignores fields after the hash, and honours a lock" {
	users alice:secret
	{
		echo '# a comment'
		printf 'yes:%s\n' "$(perl -e 'print crypt("y-pass", q($y$j9T$abcdefghijklmnop$))')"
		printf 'bc:%s:a note\n' "$(perl -e 'print crypt("b-pass", q($2b$05$abcdefghijklmnopqrstuu))')"
		printf 'locked:!%s\n' "$(printf 'l-pass\n' | openssl passwd -6 -stdin)"
	} >>"$T/users"
	example yes y-pass
	[ "$status" -eq 0 ]
	example bc b-pass
	[ "$status" -eq 0 ]
	example bc 'b-pass:a note'
	[ "$status" -eq 1 ]
	example locked l-pass
	[ "$status" -eq 1 ]
	example '# a comment' secret
	[ "$status" -eq 1 ]
}

@test "the example checker exits 111 when its file cannot be read or holds a hash crypt(3) does not know, and 2 when misused" {
	example alice secret "$T/none"
	[ "$status" -eq 111 ]
	printf 'alice:$apr1$abcdefgh$0123456789abcdefghijkl\n' >"$T/users"
	example alice secret
	[ "$status" -eq 111 ]
	printf 'alice\0secret' >"$T/fd3"
	run env CONNECTD_USERS="$T/users" "$CHECKER" /bin/true 3<"$T/fd3"
	[ "$status" -eq 2 ]
}

@test "connectd with the example checker: a right password opens the tunnel, a wrong one gets 407" {
	users alice:secret
	start_target --send 'ok\n'
	start_proxy --env "CONNECTD_USERS=$T/users" -- -P "$CHECKER" -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" alice:secret)" shut
	assert_out "${OK200}ok"$'\n'
	assert_exit 0
	grep -q ' user=alice target=' "$PDIR/stderr"
	start_target --wait-eof
	start_proxy --env "CONNECTD_USERS=$T/users" -- -P "$CHECKER" -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req "127.0.0.1:$TPORT" alice:Secret)" shut
	assert_refusal 407 http_request_denied
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") user=alice target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
	assert_target_untouched
}

# ------------------------------------------------------------ real clients

# serve_page: the harness's HTTP server, 100000 bytes of the stream at any
# path. Sets: TPORT TDIR BODYSHA.
serve_page() {
	start_http 100000
	BODYSHA=$("$PY" "$HARNESS" streamsha 100000)
}

# assert_no_request: the HTTP server behind connectd was never asked anything.
assert_no_request() {
	if [ -s "$TDIR/events" ]; then
		echo "the target got:"
		cat "$TDIR/events"
		return 1
	fi
}

# auth_proxy: connectd with the example checker and $T/users, for the HTTP server.
auth_proxy() {
	start_proxy --env "CONNECTD_USERS=$T/users" -- -P "$CHECKER" -r office -a 127.0.0.1 -t 5 -i 20 "$TPORT"
}

# curl_get ARGS...: curl through the proxy, CONNECT forced (-p), to the HTTP
# server; body to $T/body, "CONNECT-status HTTP-status" to $T/codes.
curl_get() {
	rc=0
	env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY -u no_proxy -u NO_PROXY \
		curl -sS --noproxy '' --max-time 20 -p -o "$T/body" -w '%{http_connect} %{http_code}' \
		"$@" "http://127.0.0.1:$TPORT/" >"$T/codes" 2>"$T/curl.err" 3>&- || rc=$?
	echo "curl exit $rc, codes $(cat "$T/codes"): $(cat "$T/curl.err")"
}

# tunnel_lines USER [FILE]: the decision and close lines of a tunnel to the
# HTTP server for USER, in FILE (default connectd's stderr).
tunnel_lines() {
	assert_tunnel_log --in "${2:-$PDIR/stderr}" --client-re '127\.0\.0\.1:[0-9]+' --user "$1" \
		'[0-9]+' '[0-9]+' eof
}

@test "curl --proxy-user with the right password (credentials sent at once) gets the page through the tunnel" {
	need curl
	users alice:secret
	serve_page
	auth_proxy
	curl_get -x "http://127.0.0.1:$PPORT" --proxy-user alice:secret
	[ "$rc" -eq 0 ]
	[ "$(cat "$T/codes")" = "200 200" ]
	[ "$(sha256sum <"$T/body" | cut -d' ' -f1)" = "$BODYSHA" ]
	assert_exit 0
	tunnel_lines alice
}

@test "curl --proxy-user with a wrong password gets 407 and the server behind is never asked" {
	need curl
	users alice:secret
	serve_page
	auth_proxy
	curl_get -x "http://127.0.0.1:$PPORT" --proxy-user alice:wrong
	[ "$rc" -ne 0 ]
	[ "$(cut -d' ' -f1 "$T/codes")" = 407 ]
	assert_exit 1
	assert_log "client=127\.0\.0\.1:[0-9]+ user=alice target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
	assert_no_request
}

# wait_count FILE REGEX N SECS: poll (bounded) until N lines of FILE match.
wait_count() {
	local end=$(($(date +%s) + $4))
	until [ "$(grep -Ec -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; do
		if [ "$(date +%s)" -gt "$end" ]; then
			echo "timed out waiting for $3 lines /$2/ in $1:"
			cat "$1"
			return 1
		fi
		sleep 0.02
	done
}

# anyauth_run PASSWORD: curl --proxy-anyauth through connectd under
# tcpserver (examples/run.tcpserver), which serves each connection.
anyauth_run() {
	need curl
	need tcpserver
	ns_wrap
	users alice:secret
	serve_page
	export CONNECTD_USERS=$T/users
	start_super tcpserver -P "$CHECKER" -r office -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	curl_get -x "http://127.0.0.1:$PPORT" --proxy-anyauth --proxy-user "alice:$1"
	# Both connections are done when tcpserver has seen two connectd end.
	wait_count "$SSDIR/err" '^tcpserver: end [0-9]+ status [0-9]+$' 2 15
	super_log tcpserver
	cat "$SSDIR/err"
	[ "$(grep -c '^tcpserver: pid [0-9]* from 127\.0\.0\.1$' "$SSDIR/err")" -eq 2 ]
	# The two connectd may log in either order: the 407 that asked, apart.
	grep 'status=407' "$T/stderr.lines" | grep -v ' user=' >"$T/asked" || true
	grep -vxF -f "$T/asked" "$T/stderr.lines" >"$T/answered" || true
	assert_lines "$T/asked" \
		"client=127\.0\.0\.1:[0-9]+ target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
}

@test "curl --proxy-anyauth asks first, gets 407 with the realm, and answers on a new connection: the page comes through" {
	anyauth_run secret
	[ "$rc" -eq 0 ]
	[ "$(cat "$T/codes")" = "200 200" ]
	[ "$(sha256sum <"$T/body" | cut -d' ' -f1)" = "$BODYSHA" ]
	tunnel_lines alice "$T/answered"
	[ "$(grep -c '^tcpserver: end [0-9]* status 256$' "$SSDIR/err")" -eq 1 ]
	[ "$(grep -c '^tcpserver: end [0-9]* status 0$' "$SSDIR/err")" -eq 1 ]
}

@test "curl --proxy-anyauth with a wrong password: 407 twice, the second with the user, and the server is never asked" {
	anyauth_run wrong
	[ "$rc" -ne 0 ]
	[ "$(cut -d' ' -f1 "$T/codes")" = 407 ]
	assert_lines "$T/answered" \
		"client=127\.0\.0\.1:[0-9]+ user=alice target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
	[ "$(grep -c '^tcpserver: end [0-9]* status 256$' "$SSDIR/err")" -eq 2 ]
	assert_no_request
}

@test "proxytunnel -P user:pass with the right password carries bytes both ways" {
	need proxytunnel
	users alice:secret
	start_target --echo
	start_proxy --env "CONNECTD_USERS=$T/users" -- \
		-P "$CHECKER" -a 127.0.0.1 -t 5 -i 20 "$TPORT"
	run "$PY" "$TESTDIR/tls.py" pipe --bytes 65536 -- \
		proxytunnel -q -p "127.0.0.1:$PPORT" -d "127.0.0.1:$TPORT" -P alice:secret
	echo "$output"
	[[ $output == *"rx=65536 ok=1 "* ]]
	proxy_exit
	[[ $PSTATUS == 0 || $PSTATUS == 111 ]]	# proxytunnel may reset at its exit (see clients.bats)
	grep -Eq "^client=127\.0\.0\.1:[0-9]+ user=alice target=127\.0\.0\.1:$TPORT addr=127\.0\.0\.1:$TPORT proxy-source-port=[0-9]+ status=200$" "$PDIR/stderr"
}

@test "proxytunnel -P user:pass with a wrong password gets 407 and the target gets nothing" {
	need proxytunnel
	users alice:secret
	start_target --wait-eof
	start_proxy --env "CONNECTD_USERS=$T/users" -- -P "$CHECKER" -a 127.0.0.1 -t 5 "$TPORT"
	run timeout 20 proxytunnel -q -p "127.0.0.1:$PPORT" -d "127.0.0.1:$TPORT" -P alice:wrong </dev/null
	echo "proxytunnel: status $status: $output"
	[ "$status" -ne 0 ]
	assert_exit 1
	assert_log "client=127\.0\.0\.1:[0-9]+ user=alice target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
	assert_target_untouched
}

# python_tunnel USER:PASSWORD: http.client's set_tunnel with a
# Proxy-Authorization header, GET / from the HTTP server.
python_tunnel() {
	run "$PY" - "$PPORT" "$TPORT" "$1" <<-'EOF'
		import base64, hashlib, http.client, sys
		pport, tport, cred = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
		c = http.client.HTTPConnection("127.0.0.1", pport, timeout=20)
		c.set_tunnel("127.0.0.1", tport,
		             headers={"Proxy-Authorization": "Basic " + base64.b64encode(cred.encode()).decode()})
		try:
		    c.request("GET", "/")
		    r = c.getresponse()
		    body = r.read()
		    print("status=%d sha=%s" % (r.status, hashlib.sha256(body).hexdigest()))
		except OSError as e:
		    print("error=%s" % e)
		c.close()
	EOF
	echo "$output"
}

@test "python's http.client set_tunnel with a Proxy-Authorization header and the right password gets the page" {
	users alice:secret
	serve_page
	auth_proxy
	python_tunnel alice:secret
	[ "$status" -eq 0 ]
	[ "$output" = "status=200 sha=$BODYSHA" ]
	assert_exit 0
	tunnel_lines alice
}

@test "python's http.client set_tunnel with a wrong password fails with 407 and the server is never asked" {
	users alice:secret
	serve_page
	auth_proxy
	python_tunnel alice:wrong
	[ "$output" = "error=Tunnel connection failed: 407 Proxy Authentication Required" ]
	assert_exit 1
	assert_log "client=127\.0\.0\.1:[0-9]+ user=alice target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
	assert_no_request
}

# ---------------------------------------------------------------- fail2ban

# need_fail2ban: fail2ban-regex, and $T/f2b/filter.d with the example filter
# installed as connectd.conf beside fail2ban's own common.conf.
need_fail2ban() {
	command -v fail2ban-regex >/dev/null 2>&1 || skip "needs fail2ban-regex (apt-get install fail2ban)"
	[ -e /etc/fail2ban/filter.d/common.conf ] || skip "no /etc/fail2ban/filter.d/common.conf (apt-get install fail2ban)"
	mkdir -p "$T/f2b/filter.d"
	cp /etc/fail2ban/filter.d/common.conf "$T/f2b/filter.d/"
	cp "$EXAMPLES/fail2ban.conf" "$T/f2b/filter.d/connectd.conf"
}

# four_clients [connectd arguments]: four connections through connectd with
# the example checker, each its own connectd: a wrong password for alice
# (IPv4), no credentials (the 407 that asks), the right password (a tunnel),
# a wrong password for bob from ::1.
four_clients() {
	users alice:secret bob:pw
	start_target --send 'ok\n'
	local args=(-P "$CHECKER" -a 127.0.0.1 -t 5 "$@" "$TPORT") req fam
	for req in "$(basic_req "127.0.0.1:$TPORT" alice:wrong)" "$(connect_req "127.0.0.1:$TPORT")" \
		"$(basic_req "127.0.0.1:$TPORT" alice:secret)" "6 $(basic_req "127.0.0.1:$TPORT" bob:wrong)"; do
		fam=4
		[[ $req != "6 "* ]] || fam=6
		start_proxy --family "$fam" --env "CONNECTD_USERS=$T/users" -- "${args[@]}"
		client --family "$fam" "send=${req#6 }" shut
		proxy_exit
	done
}

# tai64n: each line stamped as multilog t does: @, the TAI64N label of now
# (2^62 + 10 + the Unix time, then nanoseconds), a space.
tai64n() {
	"$PY" -c '
import sys, time
for line in sys.stdin:
    t = time.time()
    sys.stdout.write("@%016x%08x %s" % (2**62 + 10 + int(t), int(t % 1 * 1e9), line))'
}

# f2b FILE: the lines of FILE that the filter counts as failures, and the
# addresses it would ban, one per line, to $T/f2b.msg and $T/f2b.ip.
f2b() {
	fail2ban-regex --config "$T/f2b" -o msg "$1" connectd >"$T/f2b.msg" 2>&1
	fail2ban-regex --config "$T/f2b" -o ip "$1" connectd >"$T/f2b.ip" 2>&1
	echo "log:"
	cat "$1"
	echo "failures:"
	cat "$T/f2b.msg"
}

@test "the fail2ban filter of examples/ counts, in connectd's lines in a syslog file, the failed credentials and nothing else" {
	need_fail2ban
	private_syslog
	four_clients -l syslog
	syslog_sync
	# As a syslog daemon writes them to a file: the time, the host, the tag.
	grep -a ' connectd\[' "$T/syslog/messages" | sed -E 's/^<30>(.{15}) /\1 testhost /' >"$T/daemon.log"
	f2b "$T/daemon.log"
	[ "$(wc -l <"$T/daemon.log")" -eq 5 ]
	assert_lines "$T/f2b.msg" \
		".{15} testhost connectd\[[0-9]+\]: client=127\.0\.0\.1:[0-9]+ user=alice target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied" \
		".{15} testhost connectd\[[0-9]+\]: client=\[::1\]:[0-9]+ user=bob target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
	assert_lines "$T/f2b.ip" '127\.0\.0\.1' '::1'
}

@test "the fail2ban filter of examples/ reads connectd's stderr lines as multilog t stamps them (TAI64N)" {
	need_fail2ban
	four_clients -l stderr
	cat "$T"/proxy.[1-4]/stderr | tai64n >"$T/current"
	f2b "$T/current"
	[ "$(wc -l <"$T/current")" -eq 5 ]
	assert_lines "$T/f2b.msg" \
		"@[0-9a-f]{24} client=127\.0\.0\.1:[0-9]+ user=alice target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied" \
		"@[0-9a-f]{24} client=\[::1\]:[0-9]+ user=bob target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
	assert_lines "$T/f2b.ip" '127\.0\.0\.1' '::1'
}

@test "the fail2ban filter bans the client that connectd names, not one that a user name or target pretends to be" {
	need_fail2ban
	recorder 1
	start_target --wait-eof
	start_proxy -- -P "$T/checker" -l stderr -a 127.0.0.1 -t 5 "$TPORT"
	client "send=$(basic_req 192.0.2.66:443 'client=192.0.2.66:1 x')" shut
	assert_exit 1
	assert_log "client=$(re "$CLOCAL") user=client=192\.0\.2\.66 target=192\.0\.2\.66:443 status=407 error=http_request_denied"
	tai64n <"$PDIR/stderr" >"$T/current"
	f2b "$T/current"
	assert_lines "$T/f2b.ip" '127\.0\.0\.1'
}

@test "behind a balancer, the fail2ban filter finds the client that the PROXY header names, not the balancer (via=)" {
	need_fail2ban
	recorder 1
	start_target --wait-eof
	start_proxy -- -H 127.0.0.0/8 -P "$T/checker" -l stderr -a 127.0.0.1 -t 5 "$TPORT"
	client "send=PROXY TCP4 192.0.2.7 127.0.0.1 5555 3128\r\n$(basic_req "127.0.0.1:$TPORT" alice:wrong)" shut
	assert_refusal 407 http_request_denied
	assert_exit 1
	assert_log "client=192\.0\.2\.7:5555 via=$(re "$CLOCAL") user=alice target=127\.0\.0\.1:$TPORT status=407 error=http_request_denied"
	tai64n <"$PDIR/stderr" >"$T/current"
	f2b "$T/current"
	assert_lines "$T/f2b.ip" '192\.0\.2\.7'
}
