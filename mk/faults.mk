# The fault matrix (issue 5, item 4); included by the Makefile.
#
#   make asan           unit tests under ASan + UBSan (gcc)
#   make fuzz           libFuzzer on the config and command parsers
#                       (FUZZ_RUNS=1000000 inputs)
#   make fuzz-web       the same on the web page's request routing
#   make valgrind-e2e   one cisco scenario with baresip under valgrind
#   make soak           the long runs: flapping server, all down, garbage
#
# Short versions of the soak runs are in test/e2e/test_faults.py (make test).

.PHONY: asan fuzz fuzz-web fuzz-build valgrind-e2e soak clean-faults

# --- ASan + UBSan of the core and its unit tests ---------------------------

ASAN_BUILD  := build-asan
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -g
ASAN_CFLAGS := $(filter-out -O%,$(CFLAGS)) -O1 $(SAN_FLAGS)

ASAN_CORE_OBJS := $(patsubst %.c,$(ASAN_BUILD)/%.o,$(CORE_SRCS))
ASAN_UNIT_BINS := $(patsubst test/unit/%.c,$(ASAN_BUILD)/unit/%,$(UNIT_SRCS))

$(ASAN_BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	$(Q)$(CC) $(ASAN_CFLAGS) -c $< -o $@

$(ASAN_BUILD)/unit/%: test/unit/%.c test/unit/harness.h $(ASAN_CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	$(Q)$(CC) $(ASAN_CFLAGS) -Itest/unit -o $@ $< $(ASAN_CORE_OBJS) \
		$(RE_LIBS) -lcmocka

asan:
	@test/fuzz/deps.sh
	@$(MAKE) --no-print-directory $(ASAN_UNIT_BINS)
	@test/asan.sh $(ASAN_UNIT_BINS)

# --- libFuzzer: sfo_config_parse() and sfo_command() ------------------------

FUZZ_CC     := clang
FUZZ_BUILD  := build-fuzz
FUZZ_RUNS   ?= 1000000
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -g
FUZZ_CFLAGS := $(filter-out -O% -Werror,$(CFLAGS)) -O1 $(FUZZ_SAN)
FUZZ_OBJS   := $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(CORE_SRCS))
FUZZ_BIN    := $(FUZZ_BUILD)/fuzz_config
FUZZ_WEB    := $(FUZZ_BUILD)/fuzz_web

$(FUZZ_BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD fuzz $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_OBJS) $(RE_LIBS)

fuzz-build:
	@test/fuzz/deps.sh
	@$(MAKE) --no-print-directory $(FUZZ_BIN) $(FUZZ_WEB)

fuzz: fuzz-build
	@test/fuzz/run.sh $(FUZZ_BIN) $(FUZZ_RUNS)

# the web page's request routing (an extra: not part of make fuzz)
fuzz-web: fuzz-build
	@test/fuzz/run.sh $(FUZZ_WEB) $(FUZZ_RUNS) test/fuzz/corpus-web ""

# --- valgrind and the soak runs (root: network namespaces) ------------------

valgrind-e2e: all
	@test/soak/deps.sh
	@test/soak/run --module "$(CURDIR)/$(MODULE)" valgrind

soak: all
	@test/soak/deps.sh
	@test/soak/run --module "$(CURDIR)/$(MODULE)" soak

clean-faults:
	rm -rf $(ASAN_BUILD) $(FUZZ_BUILD)

clean: clean-faults
