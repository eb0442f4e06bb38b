# connectd: plain make. PREFIX, DESTDIR, CC, CFLAGS, LDFLAGS may be overridden.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror
ALL_CFLAGS = $(WARN) $(CFLAGS)

OBJS = connectd.o parse.o policy.o relay.o net.o log.o sandbox.o
UNITS = test/unit_parse test/unit_policy test/unit_sandbox

all: connectd

connectd: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS)

.c.o:
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

connectd.o: connectd.c connectd.h log.h net.h parse.h policy.h relay.h sandbox.h
parse.o: parse.c parse.h connectd.h
policy.o: policy.c policy.h parse.h connectd.h
relay.o: relay.c relay.h connectd.h
net.o: net.c net.h connectd.h
log.o: log.c log.h connectd.h
sandbox.o: sandbox.c sandbox.h

test/unit_parse: test/unit_parse.c test/unit.h parse.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_parse.c parse.o

test/unit_policy: test/unit_policy.c test/unit.h policy.o parse.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_policy.c policy.o parse.o

test/unit_sandbox: test/unit_sandbox.c test/unit.h sandbox.o
	$(CC) $(ALL_CFLAGS) -I. $(LDFLAGS) -o $@ test/unit_sandbox.c sandbox.o

check: connectd $(UNITS)
	test/run

run: connectd
	@echo "connectd on 127.0.0.1:3128 (ports 443 563); ^C stops it"
	systemd-socket-activate -l 127.0.0.1:3128 -a --inetd ./connectd -l stderr

# A static build with musl (Debian's musl-tools): no dynamic loader at start.
# The kernel headers for the seccomp filter come from the system's include dirs.
MUSL_CC ?= musl-gcc
MULTIARCH = $$(gcc -print-multiarch 2>/dev/null)
static: connectd-static
connectd-static: connectd.c parse.c policy.c relay.c net.c log.c sandbox.c connectd.h log.h net.h parse.h policy.h relay.h sandbox.h
	$(MUSL_CC) $(WARN) $(CFLAGS) -idirafter /usr/include/$(MULTIARCH) -idirafter /usr/include \
	    -static $(LDFLAGS) -o $@ connectd.c parse.c policy.c relay.c net.c log.c sandbox.c

bench: connectd
	python3 bench/bench.py

install: connectd
	mkdir -p $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 connectd $(DESTDIR)$(SBINDIR)/connectd
	install -m 644 connectd.8 $(DESTDIR)$(MANDIR)/man8/connectd.8

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/connectd $(DESTDIR)$(MANDIR)/man8/connectd.8

clean:
	rm -f connectd connectd-static $(OBJS) $(UNITS)

.PHONY: all static check run bench install uninstall clean
