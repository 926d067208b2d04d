# xmpp-sync -- GNU make
#
#   make                  build ./xmpp-sync
#   make DEVELOPER=1      the same with -Werror and extra warnings
#   make check            install missing packages, build, run all tests
#   make check SANITIZE=1 the same under AddressSanitizer + UBSan
#   make check-layers     which folder may include which (docs/hacking.md)
#   make demo             private Prosody on loopback, a master and a slave
#   make bench            benchmarks (numbers, not pass/fail)
#   make fuzz FUZZ_SECONDS=60  libFuzzer on each tests/fuzz target (clang)
#   make install PREFIX=/usr/local DESTDIR=   binary, man pages, unit, sysusers.d
#   make uninstall PREFIX=/usr/local DESTDIR=

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
VERSION  := 0.1.0

CC       ?= cc
PKG_CONFIG ?= pkg-config
PKGS     := libstrophe libgcrypt sqlite3

CFLAGS   ?= -O2 -g
XCFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -I. -DXS_VERSION='"$(VERSION)"'
ifeq ($(DEVELOPER),1)
XCFLAGS  += -Werror -Wmissing-prototypes -Wstrict-prototypes -Wvla -Wwrite-strings
endif

# Build directory: sanitizer and fuzzer builds live apart so objects
# never mix. FUZZ=1 is what `make fuzz` uses: clang, coverage for
# libFuzzer, ASan + UBSan.
FUZZ_CC  ?= clang
ifeq ($(FUZZ),1)
override CC := $(FUZZ_CC)
XCFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
XLDFLAGS += -fsanitize=address,undefined
B        := build/fuzz
else ifneq ($(SANITIZE),)
ifeq ($(SANITIZE),1)
override SANITIZE := address,undefined
endif
XCFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
XLDFLAGS += -fsanitize=$(SANITIZE)
B        := build/san
else
B        := build/std
endif

# systemd's notify protocol through libsystemd (Debian: libsystemd-dev)
# when pkg-config finds it; SYSTEMD=0 builds without it (agent/notify.c
# then speaks the protocol itself), SYSTEMD=1 insists on it.
SYSTEMD  ?= $(shell $(PKG_CONFIG) --exists libsystemd 2>/dev/null && echo 1 || echo 0)
ifeq ($(SYSTEMD),1)
PKGS     += libsystemd
XCFLAGS  += -DHAVE_LIBSYSTEMD
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# libinotifytools ships no .pc file
LIBS       := $(PKG_LIBS) -linotifytools -lresolv -lm -pthread

SRCS     := $(wildcard agent/*.c agent/*/*.c sync/*.c store/*.c)
OBJS     := $(SRCS:%.c=$(B)/%.o)
LIBOBJS  := $(filter-out $(B)/agent/main.o,$(OBJS))
TESTSRCS := $(wildcard tests/test_*.c)
TESTUTIL := $(B)/tests/testutil.o
TESTBINS := $(TESTSRCS:tests/%.c=$(B)/tests/%)
TOOLSRCS := $(wildcard tests/tools/*.c)
TOOLBINS := $(TOOLSRCS:tests/%.c=$(B)/tests/%)
BENCHSRCS := $(wildcard bench/*.c)
BENCHBINS := $(BENCHSRCS:%.c=$(B)/%)
# Fuzz targets tests/fuzz/fuzz_<name>.c: make check replays each over
# tests/fuzz/corpus/<name>/ as test_fuzz_<name>; make fuzz runs them
# under libFuzzer (FUZZ_TARGETS="name ..." for some of them only).
FUZZSRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS ?= $(FUZZSRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_SECONDS ?= 60
REPLAYBINS := $(FUZZSRCS:tests/fuzz/fuzz_%.c=$(B)/tests/test_fuzz_%)
FUZZBINS   := $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz_%)

all: xmpp-sync

xmpp-sync: $(B)/xmpp-sync
	@cp $< $@

$(B)/xmpp-sync: $(OBJS)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

# tests/testutil.o: helpers every test binary (and tool) links with; named
# as a target so make keeps it rather than deleting it as intermediate
$(TESTUTIL): tests/testutil.c

$(B)/tests/%: tests/%.c $(LIBOBJS) $(TESTUTIL) tests/unit.h tests/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(TESTUTIL) $(LIBS)

$(B)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -DFUZZ_NAME='"$*"' -o $@ tests/fuzz/replay.c $< $(LIBOBJS) $(LIBS)

$(B)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(XLDFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LIBS)

$(B)/bench/%: bench/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LIBS)

-include $(OBJS:.o=.d) $(TESTUTIL:.o=.d)

deps:
	@sh tests/lib/deps.sh

# the layer rule of docs/hacking.md, checked with a few greps
check-layers:
	@sh tests/lib/layers.sh

tests: $(B)/xmpp-sync $(TESTBINS) $(REPLAYBINS) $(TOOLBINS)

check: deps check-layers
	@$(MAKE) --no-print-directory tests
	@XS_BUILD=$(B) sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory xmpp-sync $(TOOLBINS)
	@XS_BUILD=$(B) sh tests/demo.sh

bench-deps:
	@sh tests/lib/deps.sh bench

bench: deps bench-deps
	@$(MAKE) --no-print-directory xmpp-sync $(BENCHBINS) $(TOOLBINS)
	@XS_BUILD=$(B) sh bench/run.sh

fuzz-deps:
	@sh tests/lib/deps.sh fuzz

fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-bins
	@XS_BUILD=build/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_TARGETS)

fuzz-bins: $(FUZZBINS)

# the unit names the installed binary: its path follows BINDIR
install: xmpp-sync
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 xmpp-sync $(DESTDIR)$(BINDIR)/xmpp-sync
	install -m 0644 man/xmpp-sync.1 $(DESTDIR)$(MANDIR)/man1/xmpp-sync.1
	install -m 0644 man/xmpp-sync.conf.5 $(DESTDIR)$(MANDIR)/man5/xmpp-sync.conf.5
	sed 's|/usr/local/bin/xmpp-sync|$(BINDIR)/xmpp-sync|g' systemd/xmpp-sync@.service \
		>$(DESTDIR)$(UNITDIR)/xmpp-sync@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/xmpp-sync@.service
	install -m 0644 systemd/xmpp-sync.sysusers $(DESTDIR)$(SYSUSERSDIR)/xmpp-sync.conf
	@echo "installed; create the user with: systemd-sysusers $(SYSUSERSDIR)/xmpp-sync.conf"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/xmpp-sync $(DESTDIR)$(MANDIR)/man1/xmpp-sync.1 \
		$(DESTDIR)$(MANDIR)/man5/xmpp-sync.conf.5 \
		$(DESTDIR)$(UNITDIR)/xmpp-sync@.service $(DESTDIR)$(SYSUSERSDIR)/xmpp-sync.conf

clean:
	rm -rf build xmpp-sync

.PHONY: all deps check-layers tests check demo bench bench-deps fuzz fuzz-deps fuzz-bins install uninstall clean
