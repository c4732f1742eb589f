# Raspberry Pi: cross builds and their unit tests under qemu-user.
# Included at the end of the Makefile; uses its variables. The Debian
# packages are in mk/deb.mk (included below).
#
#   make cross-deps    install the cross compilers, qemu-user and the arm64
#                      and armhf libre-dev and libcmocka-dev (multiarch)
#   make cross-arm64   build-arm64/srvfailover.so and build-arm64/unit/test_*
#   make cross-armhf   the same for armhf (32-bit Raspberry Pi OS), ARMv6
#   make cross-test    cross-deps, both cross builds, then the unit tests of
#                      both under qemu-user; ends with "N passed, N failed"
#
# A cross build is this Makefile run again with BUILD, MODULE, CC, PKG and
# ARCH_CFLAGS set for the architecture: the same sources, CFLAGS and rules.
# build-ARCH/ is this machine's suite; build-SUITE-ARCH/ another suite's
# (mk/deb.mk builds those in that suite's system).

PI_ARCHES        := arm64 armhf
PI_TRIPLET_amd64 := x86_64-linux-gnu
PI_TRIPLET_arm64 := aarch64-linux-gnu
PI_TRIPLET_armhf := arm-linux-gnueabihf

# armhf for every Raspberry Pi OS 32-bit board, ARMv6 ones too (Pi 1,
# Zero, Zero W): ARM code (no Thumb-2), ARMv6 with VFPv2, hard-float ABI.
# Debian's crt files and libgcc.a are ARMv7 Thumb-2: the module is linked
# without them (it has no constructors) and takes libgcc's helpers (64-bit
# division) from libgcc_s.so.1, which on the Pi is the Pi's own.
# trixie's armhf has a 64-bit time_t (its gcc defaults to it; said again).
PI_CFLAGS_armhf   = -marm -march=armv6+fp -mfpu=vfp -mfloat-abi=hard $\
	$(if $(filter 1.1.0,$(BARESIP_VERSION)),-D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64)
PI_SO_LDFLAGS_armhf := -nostartfiles -nodefaultlibs -lc -lgcc_s

# $(call pi_make,ARCH[,DIR]): this Makefile for ARCH, built in DIR
# (default build-ARCH)
pi_make = $(MAKE) --no-print-directory BUILD=$(or $(2),build-$(1)) \
	MODULE=$(or $(2),build-$(1))/$(notdir $(MODULE)) \
	CC=$(PI_TRIPLET_$(1))-gcc \
	ARCH_CFLAGS="$(PI_CFLAGS_$(1)) $(PI_EXTRA_CFLAGS)" \
	ARCH_SO_LDFLAGS="$(PI_SO_LDFLAGS_$(1)) $(PI_EXTRA_LDFLAGS)" \
	PKG="PKG_CONFIG_LIBDIR=/usr/lib/$(PI_TRIPLET_$(1))/pkgconfig:/usr/share/pkgconfig $(PKG)"

.PHONY: cross-deps cross-arm64 cross-armhf cross-test clean-pi

cross-deps:
	@contrib/install-cross-deps.sh

cross-arm64 cross-armhf: cross-%:
	@command -v $(PI_TRIPLET_$*)-gcc >/dev/null || \
		{ echo "$(PI_TRIPLET_$*)-gcc not found: make cross-deps"; exit 1; }
	@test -f /usr/lib/$(PI_TRIPLET_$*)/pkgconfig/libre.pc || \
		{ echo "libre-dev:$* not installed: make cross-deps"; exit 1; }
	@$(call pi_make,$*) all unit

# The unit binaries of an architecture: UNIT_BINS in build-ARCH/
pi_unit_bins = $(patsubst $(BUILD)/%,build-$(1)/%,$(UNIT_BINS))

cross-test: cross-deps
	@$(MAKE) --no-print-directory $(addprefix cross-,$(PI_ARCHES))
	@test/run-qemu.sh $(foreach a,$(PI_ARCHES),$(a) $(call pi_unit_bins,$(a)))

clean: clean-pi
clean-pi:
	rm -rf $(addprefix build-,$(PI_ARCHES))

include mk/deb.mk
