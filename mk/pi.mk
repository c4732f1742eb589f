# Raspberry Pi: cross builds, their unit tests under qemu-user, Debian
# packages. Included at the end of the Makefile; uses its variables.
#
#   make cross-deps    install the cross compilers, qemu-user and the arm64
#                      and armhf libre-dev and libcmocka-dev (multiarch)
#   make cross-arm64   build-arm64/srvfailover.so and build-arm64/unit/test_*
#   make cross-armhf   the same for armhf (32-bit Raspberry Pi OS)
#   make cross-test    cross-deps, both cross builds, then the unit tests of
#                      both under qemu-user; ends with "N passed, N failed"
#   make deb           build-deb/srvfailover_VERSION_ARCH.deb for this
#                      machine's architecture, and for arm64 and armhf when
#                      they are cross-built (make cross-arm64 cross-armhf deb)
#   make deb-test      deps, deb, then checks the .debs and loads the module
#                      from this machine's .deb, unpacked, into /usr/bin/baresip
#
# A cross build is this Makefile run again with BUILD, MODULE, CC and PKG
# set for the architecture: the same sources, CFLAGS and rules.

PI_ARCHES      := arm64 armhf
PI_TRIPLET_arm64 := aarch64-linux-gnu
PI_TRIPLET_armhf := arm-linux-gnueabihf

# $(call pi_make,ARCH): this Makefile for ARCH
pi_make = $(MAKE) --no-print-directory BUILD=build-$(1) \
	MODULE=build-$(1)/$(notdir $(MODULE)) \
	CC=$(PI_TRIPLET_$(1))-gcc \
	PKG="PKG_CONFIG_LIBDIR=/usr/lib/$(PI_TRIPLET_$(1))/pkgconfig:/usr/share/pkgconfig $(PKG)"

.PHONY: cross-deps cross-arm64 cross-armhf cross-test deb deb-test clean-pi
.PHONY: $(addprefix deb-,amd64 $(PI_ARCHES))

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

# --- Debian packages ---------------------------------------------------

DEB_NAME       ?= srvfailover
PI_GIT_COUNT   := $(shell git rev-list --count HEAD 2>/dev/null)
DEB_VERSION    ?= 0.1.0$(if $(PI_GIT_COUNT),+git$(PI_GIT_COUNT))
DEB_MAINTAINER ?= srvfailover maintainers <srvfailover@localhost>
DEB_DIR        := build-deb
PI_HOST_ARCH   := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
# this machine's architecture, and every other one that is cross-built
PI_DEB_ARCHES  := $(PI_HOST_ARCH) $(filter-out $(PI_HOST_ARCH), \
	$(foreach a,$(PI_ARCHES),$(if $(wildcard build-$(a)/$(notdir $(MODULE))),$(a))))

# What a build for each baresip depends on: its Debian suite's packages
DEB_SUITE_1.0.0   := bookworm
DEB_SUITE_1.1.0   := trixie
DEB_DEPENDS_1.0.0 := baresip-core (>= 1.0.0), baresip-core (<< 1.1~), $\
	libre0 (>= 1.1.0)
DEB_DEPENDS_1.1.0 := baresip-core (>= 1.1.0), baresip-core (<< 1.2~), $\
	libre1 (>= 2.0.1)
DEB_SUITE   = $(DEB_SUITE_$(BARESIP_VERSION))

pi_deb  = $(DEB_DIR)/$(DEB_NAME)_$(DEB_VERSION)_$(1).deb
pi_root = $(DEB_DIR)/$(1)
pi_host = $(filter $(1),$(PI_HOST_ARCH))
# this Makefile for ARCH, native or cross
pi_sub  = $(if $(call pi_host,$(1)),$(MAKE) --no-print-directory,$(call pi_make,$(1)))
pi_strip = $(if $(call pi_host,$(1)),strip,$(PI_TRIPLET_$(1))-strip)
pi_so   = $(call pi_root,$(1))/usr/lib/baresip/modules/$(notdir $(MODULE))

deb: $(addprefix deb-,$(PI_DEB_ARCHES))

# deb-ARCH: make install into a staging root, strip, control, dpkg-deb.
# Depends: the libc6 version is the newest GLIBC_ symbol version the
# module uses.
deb-amd64 deb-arm64 deb-armhf: deb-%:
	@rm -rf $(call pi_root,$*)
	@$(call pi_sub,$*) install DESTDIR=$(CURDIR)/$(call pi_root,$*) \
		PREFIX=/usr MODDIR=/usr/lib/baresip/modules \
		DOCDIR=/usr/share/doc/$(DEB_NAME) >/dev/null
	@install -D -m 0644 contrib/systemd/baresip-srvfailover.service \
		$(call pi_root,$*)/lib/systemd/system/baresip-srvfailover.service
	@$(call pi_strip,$*) --strip-unneeded --remove-section=.comment \
		$(call pi_so,$*)
	@mkdir -p $(call pi_root,$*)/DEBIAN
	@glibc=$$(readelf -V --wide $(call pi_so,$*) | \
		grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | \
		sort -t. -k1,1n -k2,2n | tail -n 1); \
	{ \
	echo "Package: $(DEB_NAME)"; \
	echo "Version: $(DEB_VERSION)"; \
	echo "Architecture: $*"; \
	echo "Maintainer: $(DEB_MAINTAINER)"; \
	echo "Installed-Size: $$(du -sk --exclude=DEBIAN $(call pi_root,$*) | cut -f1)"; \
	echo "Depends: $(DEB_DEPENDS_$(BARESIP_VERSION))," \
	     "libc6 (>= $${glibc:-2.4})"; \
	echo "Section: comm"; \
	echo "Priority: optional"; \
	echo "Description: SIP server redundancy for baresip $(BARESIP_VERSION)"; \
	echo " A baresip module (module_app srvfailover.so): several SIP servers"; \
	echo " per line, registered in parallel, Cisco or sequential mode, quick"; \
	echo " notice of a dead server, INVITE failover, every server's state on"; \
	echo " the console and as JSON. For the baresip $(BARESIP_VERSION) of Debian"; \
	echo " and Raspberry Pi OS $(DEB_SUITE). A systemd unit,"; \
	echo " baresip-srvfailover.service, runs it as a service (not enabled)."; \
	} >$(call pi_root,$*)/DEBIAN/control
	@cd $(call pi_root,$*) && \
		find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | \
		LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums
	@dpkg-deb --root-owner-group -Zxz --build $(call pi_root,$*) \
		$(call pi_deb,$*) >/dev/null
	@echo "  DEB     $(call pi_deb,$*)"

# The .deb of this machine is checked and loaded; the cross-built ones
# (present when build-ARCH/ is) are checked
deb-test: deps
	@$(MAKE) --no-print-directory deb
	@set -- $(call pi_deb,$(PI_HOST_ARCH)); \
	for a in $(filter-out $(PI_HOST_ARCH),$(PI_ARCHES)); do \
		[ -f build-$$a/$(notdir $(MODULE)) ] && \
			set -- "$$@" $(DEB_DIR)/$(DEB_NAME)_$(DEB_VERSION)_$$a.deb; \
	done; \
	test/deb-test.sh "$$@"

clean: clean-pi
clean-pi:
	rm -rf $(addprefix build-,$(PI_ARCHES)) $(DEB_DIR)
