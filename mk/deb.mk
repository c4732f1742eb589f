# Debian packages: srvfailover for bookworm and trixie, each for amd64,
# arm64 and armhf. Included by mk/pi.mk; uses its variables.
#
#   make deb         the six build-deb/srvfailover_VERSION~SUITE_ARCH.deb:
#                    this machine's suite built here (with the cross
#                    compilers of make cross-deps), the other one inside
#                    a Debian system of that suite with its own compilers
#                    (test/debian/root.sh: made once, kept in
#                    /var/cache/srvfailover/debian/)
#   make deb-here    the three of this machine's suite only
#   make deb-test    make deb, then test/pkg/run.sh: fields, lintian,
#                    systemd-analyze, each suite's amd64 .deb installed
#                    with apt into a clean system of that suite (service
#                    user, registration with kamailio, failover, upgrade,
#                    purge), the arm .debs in Debian's own arm baresip
#                    under qemu-user, and the apt repository
#   make repo        build-deb/repo/: an apt repository with the six
#                    (Packages, Release; InRelease and Release.gpg when
#                    REPO_KEY names a gpg secret key)
#
# A package's version is DEB_VERSION~SUITE (bookworm sorts before trixie:
# a Pi upgraded from bookworm to trixie gets the trixie build).

DEB_NAME       ?= srvfailover
PI_GIT_COUNT   := $(shell git rev-list --count HEAD 2>/dev/null)
DEB_VERSION    ?= 0.1.0$(if $(PI_GIT_COUNT),+git$(PI_GIT_COUNT))
DEB_MAINTAINER ?= srvfailover maintainers <srvfailover@example.org>
DEB_DATE       ?= $(shell git log -1 --format=%cD 2>/dev/null || date -R)
DEB_DIR        := build-deb
DEB_SUITES     := bookworm trixie
DEB_ARCHES     := amd64 arm64 armhf

# What a build for each baresip depends on: its Debian suite's packages
DEB_SUITE_1.0.0   := bookworm
DEB_SUITE_1.1.0   := trixie
DEB_DEPENDS_bookworm := baresip-core (>= 1.0.0), baresip-core (<< 1.1~), $\
	libre0 (>= 1.1.0)
DEB_DEPENDS_trixie   := baresip-core (>= 1.1.0), baresip-core (<< 1.2~), $\
	libre1 (>= 2.0.1)
# this machine's suite
DEB_HERE := $(DEB_SUITE_$(BARESIP_VERSION))

deb_file = $(DEB_DIR)/$(DEB_NAME)_$(DEB_VERSION)~$(1)_$(2).deb
DEB_FILES := $(foreach s,$(DEB_SUITES),$(foreach a,$(DEB_ARCHES),$\
	$(call deb_file,$(s),$(a))))
# what the other suite's system gets from here
DEB_VARS = 'DEB_VERSION=$(DEB_VERSION)' 'DEB_DATE=$(DEB_DATE)' $\
	'DEB_MAINTAINER=$(DEB_MAINTAINER)'

.PHONY: deb deb-here deb-test repo clean-deb
.PHONY: $(addprefix deb-,$(DEB_SUITES))

deb: $(addprefix deb-,$(DEB_SUITES))

deb-bookworm deb-trixie: deb-%:
ifeq ($(filter bookworm trixie,$(DEB_HERE)),)
	@echo "srvfailover: make deb runs on Debian bookworm or trixie" >&2; exit 1
endif
	@if [ "$*" = "$(DEB_HERE)" ]; then \
		$(MAKE) --no-print-directory cross-deps deb-here $(DEB_VARS); \
	else \
		nice -n 10 test/debian/root.sh run $* build \
			make -C "$(CURDIR)" --no-print-directory deb-here $(DEB_VARS); \
	fi

deb-here: $(addprefix deb-here-,$(DEB_ARCHES))

# Debian's hardening flags (dpkg-buildflags: hardening=+all)
deb-here-%: PI_EXTRA_CFLAGS = -fstack-protector-strong -D_FORTIFY_SOURCE=2 $\
	-Wformat -Werror=format-security
deb-here-%: PI_EXTRA_LDFLAGS = -Wl,-z,relro -Wl,-z,now

# deb-here-ARCH: built in build-SUITE-ARCH/, make install into a staging
# root, then contrib/debian/build-deb.sh
deb-here-%: version-check
	+@$(call pi_make,$*,build-$(DEB_HERE)-$*) all
	@rm -rf $(DEB_DIR)/root/$(DEB_HERE)-$*
	+@$(call pi_make,$*,build-$(DEB_HERE)-$*) install \
		DESTDIR=$(CURDIR)/$(DEB_DIR)/root/$(DEB_HERE)-$* \
		PREFIX=/usr MODDIR=/usr/lib/baresip/modules \
		DOCDIR=/usr/share/doc/$(DEB_NAME) >/dev/null
	@DEB_VERSION='$(DEB_VERSION)~$(DEB_HERE)' \
	 DEB_MAINTAINER='$(DEB_MAINTAINER)' DEB_DATE='$(DEB_DATE)' \
	 DEB_DEPENDS='$(DEB_DEPENDS_$(DEB_HERE))' \
	 BARESIP_VERSION=$(BARESIP_VERSION) STRIP=$(PI_TRIPLET_$*)-strip \
	 contrib/debian/build-deb.sh $(DEB_DIR)/root/$(DEB_HERE)-$* \
		$(DEB_HERE) $* $(call deb_file,$(DEB_HERE),$*)

deb-test: deps
	@$(MAKE) --no-print-directory deb
	@test/pkg/run.sh $(DEB_FILES)

repo:
	@$(MAKE) --no-print-directory deb
	@REPO_KEY='$(REPO_KEY)' test/pkg/repo.sh $(DEB_DIR)/repo $(DEB_FILES)

clean: clean-deb
clean-deb:
	rm -rf $(DEB_DIR) $(foreach s,$(DEB_SUITES),$(addprefix build-$(s)-,$(DEB_ARCHES)))
