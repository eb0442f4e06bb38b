# connectd: plain make. PREFIX, DESTDIR, CC, CFLAGS, LDFLAGS may be overridden.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
CC ?= cc
CFLAGS ?= -O2 -g
# Warnings are errors in the builds that check (make check, CI, the sanitizer
# build, the fuzzers), never in a user's make or make install.
WERROR =
WARN = -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra $(WERROR)
ALL_CFLAGS = $(WARN) $(CFLAGS)

SRCS = connectd.c auth.c number.c parse.c policy.c proxyhdr.c relay.c net.c log.c sandbox.c
HDRS = auth.h connectd.h log.h net.h number.h parse.h policy.h proxyhdr.h relay.h sandbox.h
OBJS = $(SRCS:.c=.o)
UNITS = test/unit_auth test/unit_parse test/unit_policy test/unit_proxyhdr test/unit_names test/unit_sandbox

# Test builds, never installed (make check builds them; see test/run):
# san/ AddressSanitizer and UndefinedBehaviorSanitizer (clang), vg/ for
# valgrind, fuzz/ libFuzzer targets (clang).
CLANG ?= clang
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS = $(WARN) -Werror -O1 -g $(SAN)
SAN_UNITS = san/unit_auth san/unit_parse san/unit_policy san/unit_proxyhdr san/unit_names san/unit_sandbox
FUZZ_CFLAGS = $(WARN) -Werror -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I.
FUZZERS = fuzz/fuzz_parse fuzz/fuzz_args fuzz/fuzz_proxyhdr fuzz/fuzz_names
FUZZ_SECS ?= 60

all: connectd

connectd: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS)

.c.o:
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The objects are built again when the compiler or its flags change (make
# after make check, or the reverse): .cflags holds the last ones.
$(OBJS): .cflags
.cflags: FORCE
	@echo '$(CC) $(ALL_CFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS)' >$@
FORCE:

connectd.o: connectd.c auth.h connectd.h log.h net.h number.h parse.h policy.h proxyhdr.h relay.h sandbox.h
auth.o: auth.c auth.h connectd.h net.h
number.o: number.c number.h
parse.o: parse.c parse.h number.h connectd.h
policy.o: policy.c policy.h number.h connectd.h
proxyhdr.o: proxyhdr.c proxyhdr.h policy.h number.h connectd.h
relay.o: relay.c relay.h net.h connectd.h
net.o: net.c net.h connectd.h
log.o: log.c log.h net.h connectd.h
sandbox.o: sandbox.c sandbox.h

test/unit_auth: test/unit_auth.c test/unit.h auth.o net.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_auth.c auth.o net.o

test/unit_parse: test/unit_parse.c test/unit.h parse.o number.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_parse.c parse.o number.o

test/unit_policy: test/unit_policy.c test/unit.h policy.o number.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_policy.c policy.o number.o

test/unit_proxyhdr: test/unit_proxyhdr.c test/unit.h proxyhdr.o policy.o number.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_proxyhdr.c proxyhdr.o policy.o number.o

test/unit_names: test/unit_names.c test/unit.h policy.h parse.h connectd.h policy.o parse.o number.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_names.c policy.o parse.o number.o

test/unit_sandbox: test/unit_sandbox.c test/unit.h sandbox.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_sandbox.c sandbox.o

test/loadgen: test/loadgen.c
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ test/loadgen.c

# A build whose splice() pipes are one page: the bytes after a head overflow them.
pipe4k:
	mkdir -p pipe4k
pipe4k/connectd: $(SRCS) $(HDRS) | pipe4k
	$(CC) $(ALL_CFLAGS) -DRELAY_PIPE=4096 $(LDFLAGS) -o $@ $(SRCS)

# The sanitizer build: connectd and the unit tests, with test/sanopts.c's
# runtime defaults (report, then exit 86).
san:
	mkdir -p san
san/connectd: $(SRCS) $(HDRS) test/sanopts.c | san
	$(CLANG) $(SAN_CFLAGS) -o $@ $(SRCS) test/sanopts.c
san/unit_auth: test/unit_auth.c test/unit.h auth.c auth.h net.c net.h connectd.h test/sanopts.c | san
	$(CLANG) $(SAN_CFLAGS) -I. -o $@ test/unit_auth.c auth.c net.c test/sanopts.c
san/unit_parse: test/unit_parse.c test/unit.h parse.c parse.h number.c number.h connectd.h test/sanopts.c | san
	$(CLANG) $(SAN_CFLAGS) -I. -o $@ test/unit_parse.c parse.c number.c test/sanopts.c
san/unit_policy: test/unit_policy.c test/unit.h policy.c policy.h number.c number.h connectd.h test/sanopts.c | san
	$(CLANG) $(SAN_CFLAGS) -I. -o $@ test/unit_policy.c policy.c number.c test/sanopts.c
san/unit_proxyhdr: test/unit_proxyhdr.c test/unit.h proxyhdr.c proxyhdr.h policy.c policy.h number.c number.h connectd.h test/sanopts.c | san
	$(CLANG) $(SAN_CFLAGS) -I. -o $@ test/unit_proxyhdr.c proxyhdr.c policy.c number.c test/sanopts.c
san/unit_names: test/unit_names.c test/unit.h policy.c policy.h parse.c parse.h number.c number.h connectd.h test/sanopts.c | san
	$(CLANG) $(SAN_CFLAGS) -I. -o $@ test/unit_names.c policy.c parse.c number.c test/sanopts.c
san/unit_sandbox: test/unit_sandbox.c test/unit.h sandbox.c sandbox.h test/sanopts.c | san
	$(CLANG) $(SAN_CFLAGS) -I. -o $@ test/unit_sandbox.c sandbox.c test/sanopts.c
sanitize: san/connectd $(SAN_UNITS)

# The valgrind build: the production flags, the filter built but not loaded
# (valgrind's own system calls would be killed; see sandbox.c).
vg:
	mkdir -p vg
vg/connectd: $(SRCS) $(HDRS) | vg
	$(CC) $(ALL_CFLAGS) -DSANDBOX_VALGRIND $(LDFLAGS) -o $@ $(SRCS)

# The 32-bit build (gcc -m32, Debian's gcc-multilib): the i386 filter,
# proven by test/arch.bats, which builds it where -m32 can build a program.
M32_CFLAGS = $(WARN) -m32 $(CFLAGS)
m32:
	mkdir -p m32
m32/connectd: $(SRCS) $(HDRS) | m32
	$(CC) $(M32_CFLAGS) $(LDFLAGS) -o $@ $(SRCS)
m32/unit_sandbox: test/unit_sandbox.c test/unit.h sandbox.c sandbox.h | m32
	$(CC) $(M32_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_sandbox.c sandbox.c
m32-build: m32/connectd m32/unit_sandbox

fuzz/fuzz_parse: fuzz/fuzz_parse.c parse.c parse.h number.c number.h log.c log.h net.c net.h connectd.h
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_parse.c parse.c number.c log.c net.c
fuzz/fuzz_args: fuzz/fuzz_args.c policy.c policy.h number.c number.h connectd.h
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_args.c policy.c number.c
fuzz/fuzz_proxyhdr: fuzz/fuzz_proxyhdr.c proxyhdr.c proxyhdr.h policy.c policy.h number.c number.h connectd.h
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_proxyhdr.c proxyhdr.c policy.c number.c
fuzz/fuzz_names: fuzz/fuzz_names.c policy.c policy.h parse.c parse.h number.c number.h connectd.h
	$(CLANG) $(FUZZ_CFLAGS) -o $@ fuzz/fuzz_names.c policy.c parse.c number.c
fuzz-build: $(FUZZERS)

# Each fuzzer for FUZZ_SECS seconds on a scratch copy of its corpus (fuzz/out).
fuzz: $(FUZZERS)
	fuzz/run $(FUZZ_SECS)

# Fold what the scratch corpora found into the corpus in the repository.
fuzz-merge: $(FUZZERS)
	fuzz/run merge

check: WERROR = -Werror
check: connectd $(UNITS) test/loadgen vg/connectd pipe4k/connectd
	test/run

run: connectd
	@echo "connectd on 127.0.0.1:3128 (ports 443 563); ^C stops it"
	systemd-socket-activate -l 127.0.0.1:3128 -a --inetd ./connectd -l stderr

# A static build with musl (Debian's musl-tools): no dynamic loader at start.
# The kernel headers for the seccomp filter come from the system's include dirs.
MUSL_CC ?= musl-gcc
MULTIARCH = $$(gcc -print-multiarch 2>/dev/null)
static: connectd-static
connectd-static: $(SRCS) $(HDRS)
	$(MUSL_CC) $(WARN) $(CFLAGS) -idirafter /usr/include/$(MULTIARCH) -idirafter /usr/include \
	    -static $(LDFLAGS) -o $@ $(SRCS)

# The bench's own programs, never installed: its load client and target, and
# the bare relay that is the ceiling connectd is measured against, built as
# connectd is, with glibc and static with musl.
BENCH_CFLAGS = $(WARN) -O2
bench/load: bench/load.c
	$(CC) $(BENCH_CFLAGS) $(LDFLAGS) -o $@ bench/load.c
bench/relay: bench/relay.c
	$(CC) $(BENCH_CFLAGS) $(LDFLAGS) -o $@ bench/relay.c
bench/relay-static: bench/relay.c
	$(MUSL_CC) $(BENCH_CFLAGS) -static $(LDFLAGS) -o $@ bench/relay.c

# The static builds too when musl-gcc is there; the bench skips a row whose program is not built.
bench: connectd bench/load bench/relay
	@if command -v $(MUSL_CC) >/dev/null; then $(MAKE) static bench/relay-static || \
	    rm -f connectd-static bench/relay-static; fi
	python3 bench/bench.py

install: connectd
	mkdir -p $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 connectd $(DESTDIR)$(SBINDIR)/connectd
	install -m 644 connectd.8 $(DESTDIR)$(MANDIR)/man8/connectd.8

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/connectd $(DESTDIR)$(MANDIR)/man8/connectd.8

clean:
	rm -f connectd connectd-static .cflags $(OBJS) $(UNITS) test/loadgen $(FUZZERS)
	rm -f bench/load bench/relay bench/relay-static
	rm -rf san vg m32 pipe4k fuzz/out

.PHONY: all static check run bench install uninstall clean sanitize fuzz fuzz-build fuzz-merge m32-build FORCE
