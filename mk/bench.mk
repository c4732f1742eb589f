# make bench: srvfailover's figures beside stock baresip 1.0.0 (issue 5)
#
#   make bench            every failure kind x every mode, 3 runs each,
#                         plus the memory/CPU cost run and the timeline
#                         (about 28 minutes on a 2-core machine)
#   make bench RUNS=5     more runs per figure (medians, min, max)
#   make bench QUICK=1    one mode (cisco), one run: a quick look (~9 min)
#   make bench FLEET=1    fleets only (issue 17): a phone's cost of MQTT,
#                         the REGISTER surge of SURGE_PHONES phones started
#                         together with srvfailover_start_delay 0 and 10
#                         beside stock baresip, the fleet view (~8 min)
#   make bench B=trixie   the same for trixie's baresip 1.1.0, B=upstream
#                         for upstream's 4.10.0 (test/bench/bench.sh)
#   make bench MWI=1      voicemail and presence on every phone and server
#                         (mwi.so, presence.so, a p2p contact, pubint;
#                         kamailio's presence modules): their SUBSCRIBEs
#                         and PUBLISHes count too
#   make bench BENCH_ARGS='--kinds icmp,hang --modes cisco'   (see
#                         test/bench/bench.py --help)
#
# Needs root (private network namespaces). Prints a table; writes
# in build/bench/ (B=trixie, upstream: build/bench-B/) results.csv,
# runs.json, timeline.png, fleet.json.
# Targets are printed as ok/MISS; they never fail the build.

RUNS       ?= 3
QUICK      ?=
MWI        ?=
FLEET      ?=
SURGE_PHONES ?= 20
BENCH_ARGS ?=

.PHONY: bench

# B: which baresip (as for make test; none: bookworm's)
bench: deps all
	@test/bench/bench.sh $(or $(B),bookworm) --runs $(RUNS) \
		--out "$(CURDIR)/build/bench$(if $(filter-out bookworm,$(B)),-$(B))" \
		$(if $(filter-out 0,$(QUICK)),--quick) \
		$(if $(filter-out 0,$(MWI)),--mwi) \
		$(if $(filter-out 0,$(FLEET)),--fleet) \
		--surge-phones $(SURGE_PHONES) $(BENCH_ARGS)
