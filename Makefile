# srvfailover: a baresip 1.0.0 module for SIP server redundancy
#
#   make          build srvfailover.so
#   make test     install what is missing, build, run every test
#   make demo     a live demo: three servers, one breaks and comes back
#   make install  install the module (PREFIX, DESTDIR)

MODULE   := srvfailover.so
PREFIX   ?= /usr
MODDIR   ?= $(PREFIX)/lib/baresip/modules
DOCDIR   ?= $(PREFIX)/share/doc/srvfailover
BUILD    := build

CC       ?= cc
PKG      ?= pkg-config
RE_CFLAGS := $(shell $(PKG) --cflags libre 2>/dev/null)
RE_LIBS   := $(shell $(PKG) --libs libre 2>/dev/null || echo -lre)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu99 -Wall -Wextra -Werror -fPIC
CFLAGS   += -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6 -DLINUX
CFLAGS   += -Iinclude $(RE_CFLAGS)

# The functional core: no baresip in here
CORE_SRCS := $(addprefix modules/srvfailover/, \
	line.c policy.c core.c route.c targets.c config.c status.c \
	command.c web.c page.c)
SHELL_SRCS := $(addprefix modules/srvfailover/, shell.c dial.c trace.c probe.c \
	resolve.c http.c)
HDRS := $(wildcard include/*.h modules/srvfailover/*.h)

CORE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRCS))
SHELL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(SHELL_SRCS))

UNIT_SRCS := $(wildcard test/unit/test_*.c)
UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

.PHONY: all deps test unit e2e demo install clean

all: $(MODULE)

# V=1 shows the whole command lines
Q := $(if $(V),,@)

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(MODULE): $(CORE_OBJS) $(SHELL_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) -shared -o $@.tmp $^ $(RE_LIBS)
	@# a running baresip may have the old file mapped: replace, not rewrite
	$(Q)mv -f $@.tmp $@

$(BUILD)/unit/%: test/unit/%.c test/unit/harness.h $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -Itest/unit -o $@ $< $(CORE_OBJS) \
		$(RE_LIBS) -lcmocka

deps:
	@contrib/install-deps.sh

unit: $(UNIT_BINS)

# Every suite runs; the summary line counts them all
test: deps
	@$(MAKE) --no-print-directory all unit
	@test/run-all.sh "$(CURDIR)/$(MODULE)" $(UNIT_BINS)

e2e: all
	@test/e2e/run --module "$(CURDIR)/$(MODULE)"

demo: deps
	@$(MAKE) --no-print-directory all
	@contrib/demo/demo.sh "$(CURDIR)/$(MODULE)"

install: $(MODULE)
	install -d $(DESTDIR)$(MODDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(MODULE) $(DESTDIR)$(MODDIR)/$(notdir $(MODULE))
	install -m 0644 README.md contrib/raspberry-pi.md $(DESTDIR)$(DOCDIR)
	install -m 0644 contrib/examples/* \
		contrib/systemd/baresip-srvfailover.service \
		$(DESTDIR)$(DOCDIR)/examples
	install -m 0755 contrib/srvfailover-ctl $(DESTDIR)$(DOCDIR)/examples

clean:
	rm -rf $(BUILD) $(MODULE)
include mk/faults.mk

include mk/pi.mk
include mk/bench.mk
