# srvfailover: a baresip module for SIP server redundancy
#
#   make          build srvfailover.so for this machine's baresip
#   make test     install what is missing, build, run every test
#   make demo     a live demo: three servers, one breaks and comes back
#   make install  install the module (PREFIX, DESTDIR)

CC       ?= cc
PKG      ?= pkg-config

# Which baresip: Debian pairs each baresip with its own libre, and
# upstream releases them together. bookworm: libre 1.1.x + baresip 1.0.0;
# trixie: libre 2.0.x + 1.1.0; upstream: re 4.10.x + baresip 4.10.0 (a
# prefix: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig make).
# BARESIP_VERSION=1.0.0, 1.1.0 or 4.10.0 on the command line chooses.
LIBRE_VERSION   := $(shell $(PKG) --modversion libre 2>/dev/null)
BARESIP_OF_LIBRE = $(if $(filter 1.1.%,$(LIBRE_VERSION)),1.0.0,$\
	$(if $(filter 2.0.%,$(LIBRE_VERSION)),1.1.0,$\
	$(if $(filter 4.10.%,$(LIBRE_VERSION)),4.10.0)))
BARESIP_VERSION ?= $(BARESIP_OF_LIBRE)
BARESIP_VERSIONS := 1.0.0 1.1.0 4.10.0

MODULE   ?= srvfailover.so
PREFIX   ?= /usr
MODDIR   ?= $(PREFIX)/lib/baresip/modules
DOCDIR   ?= $(PREFIX)/share/doc/srvfailover
BUILD    ?= build/baresip-$(BARESIP_VERSION)

RE_CFLAGS := $(shell $(PKG) --cflags libre 2>/dev/null)
RE_LIBS   := $(shell $(PKG) --libs libre 2>/dev/null || echo -lre)
# the unit tests run with a libre in a prefix (upstream's) without help
comma := ,
UNIT_RPATH := $(if $(filter 4.%,$(BARESIP_VERSION)),$\
	-Wl$(comma)-rpath$(comma)$(shell $(PKG) --variable=libdir libre))

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu99 -Wall -Wextra -Werror -fPIC
# Only `exports` leaves the module: a function of ours named like one of
# baresip's (message_init) would otherwise be bound to baresip's
CFLAGS   += -fvisibility=hidden
CFLAGS   += -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6 -DLINUX
CFLAGS   += -Iinclude $(RE_CFLAGS)
# a target architecture's own flags (mk/pi.mk: ARMv6 for armhf, 64-bit
# time_t for trixie's armhf); ARCH_SO_LDFLAGS for the module's link
CFLAGS   += $(ARCH_CFLAGS)

# The functional core: no baresip in here
CORE_SRCS := $(addprefix modules/srvfailover/core/, \
	line.c policy.c core.c route.c targets.c address.c config.c mwi.c \
	presence.c reload.c status.c fleet.c command.c web.c page.c)
# The shell: the only part that calls baresip
SHELL_SRCS := $(addprefix modules/srvfailover/shell/, shell.c file.c check.c \
	hook.c dial.c message.c follow.c mwi.c presence.c mqtt.c trace.c \
	keepalive.c probe.c resolve.c http.c webconn.c)
# The seam: what differs between the baresip versions, one file each,
# and what some of them share (the two Debian ones; 1.1.0 and 4.x)
SEAM_DIR := modules/srvfailover/seam
SEAM_SRC := $(SEAM_DIR)/baresip-$(BARESIP_VERSION).c $\
	$(if $(filter 1.%,$(BARESIP_VERSION)),$(SEAM_DIR)/baresip-1x.c) $\
	$(if $(filter-out 1.0.0,$(BARESIP_VERSION)),$\
		$(SEAM_DIR)/baresip-since-1.1.c)
SHELL_CFLAGS := -Iinclude/baresip-$(BARESIP_VERSION) \
	-Imodules/srvfailover/shell -Imodules/srvfailover/seam
HDRS := $(wildcard include/*.h include/*/*.h modules/srvfailover/*/*.h)

CORE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRCS))
SHELL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SHELL_SRCS) $(SEAM_SRC))

UNIT_SRCS := $(wildcard test/unit/test_*.c)
UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

.PHONY: all deps test unit e2e demo install clean version-check

all: $(MODULE)

# V=1 shows the whole command lines
Q := $(if $(V),,@)

VERSION_ERROR = srvfailover: no build for libre '$(LIBRE_VERSION)' $\
	$(if $(BARESIP_VERSION),(BARESIP_VERSION=$(BARESIP_VERSION)) )$\
	- supported: libre 1.1.x (baresip 1.0.0, Debian bookworm), $\
	libre 2.0.x (baresip 1.1.0, trixie) and re 4.10.x (baresip $\
	4.10.0); install libre-dev, or choose with BARESIP_VERSION=1.0.0, $\
	1.1.0 or 4.10.0

version-check:
	@case " $(BARESIP_VERSIONS) " in *" $(BARESIP_VERSION) "*) ;; \
	*) echo "$(VERSION_ERROR)" >&2; exit 1;; esac

$(BUILD)/%.o: %.c $(HDRS) | version-check
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(SHELL_OBJS): CFLAGS += $(SHELL_CFLAGS)

# No libre in DT_NEEDED: baresip brings its own, and a build for the
# other Debian suite then loads far enough to refuse with a clear line
$(MODULE): $(CORE_OBJS) $(SHELL_OBJS)
	@echo "  LD      $@ (baresip $(BARESIP_VERSION))"
	$(Q)$(CC) -shared -o $@.tmp $^ $(ARCH_SO_LDFLAGS)
	@# a running baresip may have the old file mapped: replace, not rewrite
	$(Q)mv -f $@.tmp $@

$(BUILD)/unit/%: test/unit/%.c test/unit/harness.h $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -Itest/unit -o $@ $< $(CORE_OBJS) \
		$(RE_LIBS) $(UNIT_RPATH) -lcmocka

deps:
	@contrib/install-deps.sh

unit: $(UNIT_BINS)

# Every suite runs; the summary line counts them all. End-to-end tests
# run side by side: `make test -j1` one at a time, `-jN` N at once (default
# 4x the cores); `T=name` runs only that end-to-end test (a file, a
# pattern), on every baresip; `B=bookworm`, `B=trixie` or `B=upstream`
# that baresip only
E2E_JOBS = $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS)))
test: deps
	@$(MAKE) --no-print-directory all unit
	@test/run-all.sh $(if $(E2E_JOBS),-j $(E2E_JOBS)) $(if $(B),-b $(B)) \
		$(T)

e2e: all
	@test/e2e/run --module "$(CURDIR)/$(MODULE)"

demo: deps
	@$(MAKE) --no-print-directory all
	@contrib/demo/demo.sh "$(CURDIR)/$(MODULE)"

install: $(MODULE)
	install -d $(DESTDIR)$(MODDIR) $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(DOCDIR)/docs
	install -m 0644 $(MODULE) $(DESTDIR)$(MODDIR)/$(notdir $(MODULE))
	install -m 0644 README.md contrib/raspberry-pi.md $(DESTDIR)$(DOCDIR)
	install -m 0644 docs/*.md docs/*.png $(DESTDIR)$(DOCDIR)/docs
	install -m 0644 contrib/examples/* \
		contrib/systemd/baresip-srvfailover.service \
		$(DESTDIR)$(DOCDIR)/examples
	install -m 0755 contrib/srvfailover-ctl $(DESTDIR)$(DOCDIR)/examples

clean:
	rm -rf $(BUILD) $(MODULE)
include mk/faults.mk

include mk/pi.mk
include mk/bench.mk
