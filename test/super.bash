# super.bash: helpers for running connectd under real super-servers. Load with
# `load lib` then `load super`.
#
# Every super-server runs in a private mount namespace (see ns_wrap) where:
#   /dev is a tmpfs with null, zero, full, random and urandom, and /dev/log is
#        the socket of a syslog stub that the test started (the machine's own
#        /dev/log is never touched); its datagrams are in $T/syslog/;
#   /run is an empty tmpfs (no pid file, no nscd, no journal socket of the host);
#   /usr/local/sbin holds only connectd, so that the examples/ files, which
#        name /usr/local/sbin/connectd, are used as they are (when $T/piped
#        exists, it is that script, and the real one is connectd.real);
#   /etc/hosts and /etc/nsswitch.conf are private: names come from files only,
#        so nothing in the namespace can send a DNS query.
# That needs root. xinetd and openbsd-inetd are not installed (Debian's
# packages conflict): their .deb files are fetched with `apt-get download`
# into test/.debs/ (kept out of git) and unpacked in the test's own folder.
#
# What the helpers leave, as in lib.bash: the namespace's command prefix
# (NS_WRAP), the last super-server started (PPORT SSDIR SSPID; SSPIDS holds
# them all, for teardown), connectd's pid under it (DPID) and the port a
# process listens on (LPORT).

SUPER=$TESTDIR/super.py
DEBS=$TESTDIR/.debs
NSBIN=/usr/local/sbin/connectd	# connectd in the namespace

# kill_tree PID...: TERM each process and everything below it (collected before
# any is killed, so that orphans are not lost), wait (bounded), then KILL.
kill_tree() {
	local all=()
	mapfile -t all < <(printf '%s\n' "$@"; "$PY" "$SUPER" tree "$@")
	stop_pids "${all[@]}"
}

# super_teardown: stop every super-server (and all they started), then lib_teardown.
super_teardown() {
	[ -z "${SSPIDS[*]-}" ] || kill_tree "${SSPIDS[@]}"
	lib_teardown
}

teardown() {
	super_teardown
}

# debs_ready NAME...: makes sure each package's .deb is in test/.debs (fetched
# with apt-get download, after apt-get update when the lists are missing) and
# unpacked under $BATS_FILE_TMPDIR/NAME/, with the library packages it depends on
# that are not installed (unpacked beside it: LD_LIBRARY_PATH). Writes
# $BATS_FILE_TMPDIR/NAME.skip with the reason when it cannot be had.
debs_ready() {
	local name root why
	mkdir -p "$DEBS"
	for name; do
		root=$(deb_root "$name")
		why=$(deb_unpack "$name" "$root" 2>&1) || {
			printf '%s\n' "$why" | tail -n 3 >"$BATS_FILE_TMPDIR/$name.skip"
			continue
		}
	done
}

# deb_file PKG: the cached .deb of PKG, fetched if need be.
deb_file() {
	local pkg=$1 f
	f=$(find "$DEBS" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
	if [ -z "$f" ]; then
		command -v apt-get >/dev/null || { echo "apt-get is not here to fetch $pkg"; return 1; }
		if ! (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >&2; then
			[ "$(id -u)" -eq 0 ] || { echo "cannot download $pkg (not root: no apt-get update)"; return 1; }
			apt-get update -q >&2 || true
			(cd "$DEBS" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >&2 ||
				{ echo "apt-get download $pkg failed"; return 1; }
		fi
		f=$(find "$DEBS" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
	fi
	[ -n "$f" ] || { echo "no .deb of $pkg"; return 1; }
	echo "$f"
}

# deb_unpack PKG ROOT: unpack PKG and the missing lib* packages it needs.
deb_unpack() {
	local pkg=$1 root=$2 todo done=" " p f dep bin missing
	command -v dpkg-deb >/dev/null || { echo "dpkg-deb is not here"; return 1; }
	rm -rf "$root"
	mkdir -p "$root"
	todo=("$pkg")
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		[[ $done == *" $p "* ]] && continue
		done+="$p "
		f=$(deb_file "$p") || return 1
		dpkg-deb -x "$f" "$root" || { echo "dpkg-deb -x $f failed"; return 1; }
		# Depends: the first of each alternative, library packages not installed.
		for dep in $(dpkg-deb -f "$f" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//' | tr -d ' '); do
			[[ $dep == lib* ]] || continue
			[[ $dep == libc6 ]] && continue	# the C library goes with the system's loader
			dpkg-query -W -f '${Status}' "$dep" 2>/dev/null | grep -q 'ok installed' && continue
			todo+=("$dep")
		done
	done
	for bin in "$root"/usr/sbin/*; do
		missing=$(LD_LIBRARY_PATH=$(deb_libpath "$root") ldd "$bin" 2>&1 | grep 'not found') || true
		[ -z "$missing" ] || { echo "$bin: $missing"; return 1; }
	done
	dpkg-deb -f "$(deb_file "$pkg")" Version >"$root.version"
}

# deb_libpath ROOT: the library folders of an unpacked root.
deb_libpath() {
	local d out=
	for d in "$1"/lib/*-linux-gnu "$1"/usr/lib/*-linux-gnu "$1"/lib "$1"/usr/lib; do
		[ -d "$d" ] && out+=${out:+:}$d
	done
	echo "$out"
}

# need_deb NAME: skip unless debs_ready could unpack it (in deb_root NAME).
need_deb() {
	if [ -e "$BATS_FILE_TMPDIR/$1.skip" ]; then
		skip "$1 cannot be had: $(tr '\n' ' ' <"$BATS_FILE_TMPDIR/$1.skip")"
	fi
	[ -d "$(deb_root "$1")" ] || skip "$1 was not fetched"
}

# deb_root NAME: where debs_ready unpacked the package NAME.
deb_root() {
	echo "$BATS_FILE_TMPDIR/$1"
}

# start_syslog: the syslog stub, its datagrams in $T/syslog (dgram.N,
# messages), its pid in $T/syslog/pid.
start_syslog() {
	mkdir -p "$T/syslog"
	bg "$PY" "$SUPER" syslog --dir "$T/syslog" --path "$T/syslog/sock"
	echo "$BGPID" >"$T/syslog/pid"
	wait_file "$T/syslog/ready" 5
	: >>"$T/syslog/messages"
}

# ns_wrap: start the syslog stub; the command prefix that runs a program in
# the private namespace described at the top. Needs root and unshare.
# Sets: NS_WRAP.
ns_wrap() {
	need_root
	need unshare
	start_syslog
	mkdir -p "$T/olddev" "$T/etc"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$T/etc/hosts"
	printf '%s\n' 'passwd: files' 'group: files' 'shadow: files' 'hosts: files' \
		'networks: files' 'protocols: files' 'services: files' >"$T/etc/nsswitch.conf"
	: >"$T/etc/empty"
	# shellcheck disable=SC2016
	NS_WRAP=(unshare --mount --propagation private -- sh -c '
		set -e
		t=$1 bin=$2
		shift 2
		mount --bind /dev "$t/olddev"
		mount -t tmpfs -o mode=755 none /dev
		for n in null zero full random urandom; do
			: >"/dev/$n"
			mount --bind "$t/olddev/$n" "/dev/$n"
		done
		: >/dev/log
		mount --bind "$t/syslog/sock" /dev/log
		mount -t tmpfs -o mode=755 none /run
		mkdir -p /usr/local/sbin
		mount -t tmpfs -o mode=755 none /usr/local/sbin
		if [ -e "$t/piped" ]; then
			cp "$bin" /usr/local/sbin/connectd.real
			cp "$t/piped" /usr/local/sbin/connectd
			chmod 755 /usr/local/sbin/connectd
		else
			cp "$bin" /usr/local/sbin/connectd
		fi
		mount --bind "$t/etc/hosts" /etc/hosts
		mount --bind "$t/etc/nsswitch.conf" /etc/nsswitch.conf
		for f in /etc/hosts.allow /etc/hosts.deny; do
			if [ -e "$f" ]; then mount --bind "$t/etc/empty" "$f"; fi
		done
		exec "$@"' sh "$T" "$CONNECTD")
}

# bg_super OUT ERR CMD...: run a super-server in the namespace, stdout and stderr
# to files; tracked for teardown with everything it starts. Sets: SSPID.
bg_super() {
	local out=$1 err=$2
	shift 2
	"${NS_WRAP[@]}" "$@" </dev/null >"$out" 2>"$err" 3>&- &
	SSPID=$!
	SSPIDS+=("$SSPID")
}

# wait_listen PID PORT|any [SECS]: poll until PID listens on PORT (any: on
# some port); 1 if it died or did not within SECS. Sets: LPORT.
wait_listen() {
	local pid=$1 port=$2 secs=${3:-10} end
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		kill -0 "$pid" 2>/dev/null || return 1
		LPORT=$("$PY" "$SUPER" listening "$pid" | head -n1)
		if [ -n "$LPORT" ] && { [ "$port" = any ] || [ "$LPORT" = "$port" ]; }; then
			return 0
		fi
		[ "$(date +%s%N)" -gt "$end" ] && return 1
		sleep 0.02
	done
}

# stop_super: stop the super-server (and all it started) before the test ends.
stop_super() {
	kill_tree "$SSPID"
}

# on_free_port NAME ERR START [ARGS]: START PORT ARGS... starts a super-server
# (bg_super) that is to listen on PORT, a port that was free; when it does not
# listen there within 10 s (the port was taken since), it is stopped and tried
# again on another (5 tries), ERR (its stderr) shown. START failing ends the
# tries. Sets: PPORT.
on_free_port() {
	local name=$1 err=$2 start=$3 try port
	shift 3
	for try in 1 2 3 4 5; do
		port=$("$PY" "$SUPER" freeport)
		"$start" "$port" "$@" || return 1
		if wait_listen "$SSPID" "$port" 10; then
			PPORT=$port
			return 0
		fi
		echo "# $name could not listen on $port (try $try):"
		tail -n 5 "$err"
		stop_super
	done
	return 1
}

# start_super KIND [connectd arguments]: KIND tcpserver, ssa
# (systemd-socket-activate -a --inetd), inetd (openbsd-inetd, with
# examples/inetd.conf) or xinetd (with examples/connectd.xinetd), serving
# connectd with these arguments on 127.0.0.1, in the namespace (ns_wrap first).
# The port is the kernel's (tcpserver takes port 0) or one that was free.
# Sets: PPORT SSDIR (its out, err, log files) SSPID.
start_super() {
	local kind=$1
	shift
	SSDIR=$T/$kind
	mkdir -p "$SSDIR"
	if [ "$kind" = tcpserver ]; then
		# The example takes port 0 (the kernel's choice), read back from /proc.
		example_tcpserver "$@" >"$SSDIR/run" || return 1
		bg_super "$SSDIR/err" "$SSDIR/run.err" sh "$SSDIR/run"
		wait_listen "$SSPID" any 10 || { cat "$SSDIR/err" "$SSDIR/run.err"; return 1; }
		PPORT=$LPORT
		return
	fi
	declare -F "super_on_$kind" >/dev/null || { echo "start_super: unknown kind $kind"; return 1; }
	on_free_port "$kind" "$SSDIR/err" "super_on_$kind" "$@"
}

# super_on_ssa PORT [ARGS]: systemd-socket-activate on PORT, for start_super.
super_on_ssa() {
	local port=$1
	shift
	bg_super "$SSDIR/out" "$SSDIR/err" systemd-socket-activate -l "127.0.0.1:$port" -a --inetd "$NSBIN" "$@"
}

# super_on_inetd PORT [ARGS]: openbsd-inetd on PORT, for start_super.
super_on_inetd() {
	local root
	root=$(deb_root openbsd-inetd)
	example_inetd "$@" >"$SSDIR/inetd.conf" || return 1
	# -d: in the foreground, debug lines (pids, exit statuses) on stderr.
	bg_super "$SSDIR/out" "$SSDIR/err" env LD_LIBRARY_PATH="$(deb_libpath "$root")" \
		"$root/usr/sbin/inetd" -d "$SSDIR/inetd.conf"
}

# super_on_xinetd PORT [ARGS]: xinetd on PORT, logging to $SSDIR/log, for start_super.
super_on_xinetd() {
	local root
	root=$(deb_root xinetd)
	example_xinetd "$SSDIR/log" "$@" >"$SSDIR/xinetd.conf" || return 1
	bg_super "$SSDIR/out" "$SSDIR/err" env LD_LIBRARY_PATH="$(deb_libpath "$root")" \
		"$root/usr/sbin/xinetd" -f "$SSDIR/xinetd.conf" -dontfork -stayalive \
		-pidfile "$SSDIR/pid"
}

# args_line ARG...: the arguments, space-separated (they have no spaces).
args_line() {
	local IFS=' '
	echo "$*"
}

# example_tcpserver [ARGS]: examples/run.tcpserver as it is, on port 0 and with
# the connectd arguments of the test; fails if the example no longer has them.
example_tcpserver() {
	local file=$TESTDIR/../examples/run.tcpserver
	grep -Eq ' 127\.0\.0\.1 3128 ' "$file" && grep -Eq '^[[:space:]]+/usr/local/sbin/connectd( |$)' "$file" ||
		{ echo "examples/run.tcpserver: no '127.0.0.1 3128' or connectd line" >&2; return 1; }
	sed -E "s/ 127\.0\.0\.1 3128 / 127.0.0.1 0 /
		s|^([[:space:]]+/usr/local/sbin/connectd).*|\1 $(args_line "$@")|" "$file"
}

# example_inetd PORT [ARGS]: examples/inetd.conf as it is, with the port and the
# connectd arguments of the test; fails if the example no longer has them.
example_inetd() {
	local port=$1 file=$TESTDIR/../examples/inetd.conf line
	shift
	line=$(grep -v '^[[:space:]]*#' "$file" | grep -E '^127\.0\.0\.1:3128[[:space:]]+stream[[:space:]]+tcp[[:space:]]+nowait(\.[0-9]+)?[[:space:]]+[^[:space:]]+[[:space:]]+/usr/local/sbin/connectd[[:space:]]+connectd')
	[ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] || { echo "examples/inetd.conf: no single connectd line" >&2; return 1; }
	line=${line/127.0.0.1:3128/127.0.0.1:$port}
	# The test's arguments replace the example's.
	line=$(printf '%s\n' "$line" | sed -E 's|(/usr/local/sbin/connectd[[:space:]]+connectd).*|\1|')
	printf '%s %s\n' "$line" "$(args_line "$@")"
}

# example_xinetd LOG PORT [ARGS]: a configuration of the test's own (log to
# the file LOG, with pids and exit statuses) and the service of
# examples/connectd.xinetd as it is, with the port and the connectd arguments.
example_xinetd() {
	local log=$1 port=$2 file=$TESTDIR/../examples/connectd.xinetd
	shift 2
	grep -Eq '^[[:space:]]*port[[:space:]]*=[[:space:]]*3128[[:space:]]*$' "$file" &&
		grep -Eq '^[[:space:]]*server[[:space:]]*=[[:space:]]*/usr/local/sbin/connectd[[:space:]]*$' "$file" &&
		grep -Eq '^[[:space:]]*server_args[[:space:]]*=' "$file" ||
		{ echo "examples/connectd.xinetd: no port = 3128, server or server_args line" >&2; return 1; }
	cat <<-EOF
		defaults
		{
			log_type = FILE $log
			log_on_success = PID HOST EXIT DURATION
			log_on_failure = HOST
		}
	EOF
	sed -E "s|^([[:space:]]*port[[:space:]]*=).*|\1 $port|
		s|^([[:space:]]*server_args[[:space:]]*=).*|\1 $(args_line "$@")|" "$file"
}

# super_dpid KIND: the pid of the (first) connectd that the super-server
# started, from its own log. Sets: DPID.
super_dpid() {
	case $1 in
	tcpserver) wait_grep "$SSDIR/err" '^tcpserver: pid [0-9]+ ' 10 && DPID=$(sed -n 's/^tcpserver: pid \([0-9]*\) .*/\1/p' "$SSDIR/err" | head -n1) ;;
	ssa) wait_grep "$SSDIR/err" '^Spawned .* as PID [0-9]+' 10 && DPID=$(sed -n 's/^Spawned .* as PID \([0-9]*\)\.$/\1/p' "$SSDIR/err" | head -n1) ;;
	inetd) wait_grep "$SSDIR/err" '^[0-9]+ execv ' 10 && DPID=$(sed -n 's/^\([0-9]*\) execv .*/\1/p' "$SSDIR/err" | head -n1) ;;
	xinetd) wait_grep "$SSDIR/log" 'START: connectd pid=[0-9]+' 10 && DPID=$(sed -n 's/.*START: connectd pid=\([0-9]*\).*/\1/p' "$SSDIR/log" | head -n1) ;;
	esac
}

# super_exit KIND STATUS: wait for the first connectd to end and check that
# the super-server saw it exit with STATUS (each reports it its own way).
super_exit() {
	local kind=$1 want=$2
	case $kind in
	tcpserver) wait_grep "$SSDIR/err" "^tcpserver: end [0-9]+ status $((want << 8))$" 15 ;;
	ssa)
		if [ "$want" -eq 0 ]; then
			wait_grep "$SSDIR/err" '^Child [0-9]+ (died with code 0|exited successfully)' 15
		else
			wait_grep "$SSDIR/err" "^Child [0-9]+ died with code $want\$" 15
		fi
		;;
	inetd) wait_grep "$SSDIR/err" "^[0-9]+ reaped, status $(printf %x $((want << 8)))$" 15 ;;	# in hex
	xinetd) wait_grep "$SSDIR/log" "EXIT: connectd status=$want pid=" 15 ;;
	esac
}

# super_log KIND: connectd's lines in the super-server's stderr (its own lines
# left out), to $T/stderr.lines.
super_log() {
	case $1 in
	tcpserver) grep -v '^tcpserver: ' "$SSDIR/err" ;;
	ssa) grep -Ev '^(Listening on|Communication attempt|Connection from|Spawned|Execing|Child) ' "$SSDIR/err" ;;
	*) grep -E '(^| )client=|^connectd: ' "$SSDIR/err" ;;
	esac >"$T/stderr.lines" || true
}

# syslog_sync: send the stub a marker and wait for it: every datagram sent
# before (by a connectd that has ended) is then on file.
syslog_sync() {
	local m=sync.$RANDOM$RANDOM
	"$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(sys.argv[2].encode(), sys.argv[1])' "$T/syslog/sock" "<31>$m"
	wait_grep "$T/syslog/messages" "^<31>$m\$" 5
}

# syslog_lines: the messages that came to the stub from connectd, to
# $T/syslog.lines (a super-server's own messages left out).
syslog_lines() {
	grep -E '^<[0-9]+>.{15} connectd\[' "$T/syslog/messages" >"$T/syslog.lines" || true
}

# assert_dgram N PID TEXT_REGEX: datagram N of the stub is exactly
# "<30>Mmm dd hh:mm:ss connectd[PID]: " and a line matching the regex, with no
# newline, and its time stamp is now.
assert_dgram() {
	local f=$T/syslog/dgram.$1 d
	wait_file "$f" 5
	d=$(cat "$f"; printf x)
	d=${d%x}
	if ! [[ $d =~ ^\<30\>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\ [\ 123][0-9]\ [012][0-9]:[0-5][0-9]:[0-5][0-9]\ connectd\[$2\]:\ $3$ ]]; then
		echo "datagram $1 is not <30>Mmm dd hh:mm:ss connectd[$2]: /$3/ with no newline:"
		od -c "$f" | head -20
		return 1
	fi
	"$PY" "$SUPER" stamp "$f"
}
