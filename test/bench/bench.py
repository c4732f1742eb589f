"""`make bench`: srvfailover's figures beside stock baresip (bookworm's
1.0.0; with SFO_BARESIP_PREFIX, the upstream baresip installed there:
make bench B=upstream).

    test/bench/bench.py --module /abs/srvfailover.so [--runs N] [--quick]
                        [--kinds 503,tcp,icmp,hang,drop] [--mwi]
                        [--modes parallel,cisco,sequential]
                        [--cost-window S] [--out build/bench] [--keep]
                        [--fleet] [--fleet-window S] [--surge-phones N]
                        [--surge-delays 0,10]

Needs root. Every run is a child of this script in its own network
namespace (`unshare -n`): the real /usr/bin/baresip (with the module,
and stock with the same servers in `accounts`), kamailio and sipp on
127.0.0.x, tcpdump on lo. Figures come from the wire (pcap, read with
test/e2e/lab.py), from `srvfailover json` polled every 100 ms and from
baresip's ctrl_tcp events.

A run of one failure kind holds two labs side by side, each with one
baresip per mode plus one stock baresip, all on the same three servers:

  lab A  127.0.0.2/.3/.4  server 1 fails while idle: time to detect,
         time until registered elsewhere, SIP messages per minute while
         the primary is failed; then it recovers: fail-back time.
  lab B  127.0.0.5/.6/.7  idle first (SIP messages per minute, probes
         per server per interval), then server 1 fails and every phone
         dials 200 at once: time from dial to 180 Ringing via a backup.
         Stock dials through account 1; when that call fails, a redial
         through account 2 follows at once (`uanext` and `dial 200` on
         1.0.0, `dial sip:200@server2` later; a person would take
         seconds longer). With baresip 4.x, which calls only from its
         route's source address, every phone runs as a user whose route
         has its address (benchlab.BenchLab.own_route).

Then one cost run: resident memory and CPU time of an idle baresip with
and without the module, for 0, 1, 8 and 32 lines of 3 servers.

Fleets (issue 17; --fleet: these only): a phone's cost of MQTT (two
idle phones, one with srvfailover_mqtt_broker: VmRSS, CPU time per idle
hour, MQTT messages while idle; then server 1 killed: the messages on
the broker for one switch); the REGISTER surge: N phones (--surge-phones)
started at once, with each srvfailover_start_delay of --surge-delays and
as stock baresips, REGISTERs to server 1 in the capture (peak per 1 s,
spread of the first ones); the fleet view reading 10,000 phones' states.

Output: a table on stdout, build/bench/results.csv, build/bench/runs.json
(every sample), build/bench/timeline.png (gnuplot) of every server's state
of one phone through one failover and fail-back.
"""

import argparse
import csv
import hashlib
import json
import os
import queue
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import benchlab as B  # noqa: E402
from benchlab import L  # noqa: E402
import common as C  # noqa: E402  (test/e2e/common.py, read-only)

MODES = ["parallel", "cisco", "sequential"]
KIND_ORDER = ["503", "tcp", "icmp", "hang", "drop"]

# The configuration benched (module and stock alike):
REGINT = 30            # registration expiry of every server (s)
REFRESH = 0.9 * REGINT  # libre re-REGISTERs at 90 % of it: 27 s
RETRIES = 3            # sfo_retries default: budget 0.5+1+2 = 3.5 s
BUDGET = 3.5
# The module's line parameters: the e2e lab's (test/e2e/common.py):
#   sfo_probe_interval=2, sfo_failback=immediate, sfo_retry_base=2,
#   sfo_retry_max=8, sequential: sfo_fallback_interval=5
PROBE_INTERVAL = 2

SA = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]  # lab A servers 1, 2, 3
SB = ["127.0.0.5", "127.0.0.6", "127.0.0.7"]  # lab B servers 1, 2, 3
DEAD_FROM = 8.0    # dead-idle window starts this long after the failure
MIN_DEAD = 20.0    # server 1 stays failed at least this long (< 30 s:
                   # stock's first retry, 30-60 s after its failure,
                   # then comes after the recovery)
HEALTHY = REFRESH  # lab B idle window: one refresh period exactly
FAILED = ("Registration failed", "Unreachable")


# --------------------------------------------------------------------------
# child: one failure kind, one run (inside unshare -n)


def module_config(mode, user, servers, transport, params=""):
    text = C.config(mode, user=str(user), servers=servers,
                    server_params="regint=%d%s" % (REGINT, params))
    return text.replace("transport=udp", "transport=" + transport)


def stock_accounts(user, servers, transport, params=""):
    return "\n".join("<sip:%s@%s;transport=%s>;regint=%d%s" % (
        user, ip, transport, REGINT, params) for ip in servers) + "\n"


# --mwi: each phone publishes its presence and watches a colleague's at
# its main server (p2p: presence.so subscribes to it)
PUBINT = 60
PEER = "200"


def wait_stock_registered(lab, phone, servers, timeout=20):
    def ok():
        msgs = B.phone_msgs(lab.wire(), phone)
        fin = B.Finals(msgs)
        return all(B.reg_ok_from(msgs, [ip], 0, fin) for ip in servers)
    L.wait_for(ok, timeout, "stock %s registered at %s" % (
        phone.name_, servers), interval=0.3)


def steady_check(mode):
    def check(line):
        return line.get("working") == 1 and C.states_are(
            C.STEADY[mode])(line)
    return check


def registered_on(mode, prios):
    want = "Registered*" if mode == "parallel" else "Registered"

    def check(line):
        w = line.get("working")
        return w in prios and C.server_state(line, w) == want
    return check


def wait_lines(pollers, check_of, timeout, what):
    """Until every poller's last sample passes check_of(name)(line);
    returns the first time each did (poller clock), or raises."""
    deadline = time.monotonic() + timeout
    done = {}
    while True:
        for name, p in pollers.items():
            if name not in done:
                line = p.last()
                if line and check_of(name)(line):
                    done[name] = time.time()
        if len(done) == len(pollers):
            return done
        if time.monotonic() > deadline:
            raise L.LabError("timed out after %ds waiting for %s: %s" % (
                timeout, what, {n: C.describe({"lines": [p.last()]},
                                              p.phone.user)
                                for n, p in pollers.items()
                                if n not in done}))
        time.sleep(0.1)


def stock_event(phone, type_, aor, since):
    return next((e for e in phone.ctrl.events_of(type_, since)
                 if e.get("accountaor") == aor), None)


def wait_stock_event(phone, type_, aor, since, timeout):
    try:
        return L.wait_for(lambda: stock_event(phone, type_, aor, since),
                          timeout, "%s %s" % (type_, aor), interval=0.1)
    except L.LabError:
        return None


class Run:
    def __init__(self, lab, kind, modes, log, mwi=False):
        self.lab, self.kind, self.modes, self.log = lab, kind, modes, log
        # --mwi: voicemail and presence on every phone (mwi.so,
        # presence.so, a colleague's presence, pubint) and server
        self.mwi = mwi
        # (loaded before the accounts: stock baresip freezes in mwi.so's
        # start timer more often when a REGISTER_OK comes first)
        self.extra = ["module mwi.so", "module contact.so",
                      "module presence.so"] if mwi else []
        self.params = ";pubint=%d" % PUBINT if mwi else ""
        self.tp = B.KINDS[kind][1]
        self.uanext = L.baresip_version() == "1.0.0"
        self.res = {"kind": kind, "modes": modes, "notes": []}
        self.rand = random.Random(os.urandom(8))
        self.jobs = queue.Queue()

    def in_main(self, fn):
        """Run fn in the main thread and return its result. Processes
        must be started there: PR_SET_PDEATHSIG (lab.Proc) fires when
        the starting *thread* ends, which would kill a kamailio's main
        process and orphan its children."""
        if threading.current_thread() is threading.main_thread():
            return fn()
        box, done = {}, threading.Event()
        self.jobs.put((fn, box, done))
        if not done.wait(60):
            raise L.LabError("the main thread did not run %r" % fn)
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def serve(self, threads, timeout):
        """Main thread: run the jobs of the lab threads until they end."""
        deadline = time.monotonic() + timeout
        while any(t.is_alive() for t in threads) and \
                time.monotonic() < deadline:
            try:
                fn, box, done = self.jobs.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                box["value"] = fn()
            except Exception as e:
                box["error"] = e
            done.set()

    def redial(self, p):
        """Stock's redial through account 2, as a person would: 1.0.0
        has `uanext`; later ones find the account by the URI dialled."""
        if self.uanext:
            p.command("uanext")
            p.command("dial 200")
        else:
            p.command("dial sip:200@%s;transport=%s" % (SB[1], self.tp))

    def phones(self, tag, servers, ip_base, ctrl_base, user_base):
        mods = {}
        contacts = "<sip:%s@%s;transport=%s>;presence=p2p" % (
            PEER, servers[0], self.tp) if self.mwi else ""
        for i, mode in enumerate(self.modes):
            mods[mode] = self.lab.phone(
                "%s-%s" % (tag, mode), "127.0.0.%d" % (ip_base + i),
                ctrl_base + i, user_base + i, module=self.lab.module,
                srvfailover=module_config(mode, user_base + i, servers,
                                          self.tp, self.params),
                extra=self.extra, contacts=contacts)
        stock = self.lab.phone(
            "%s-stock" % tag, "127.0.0.%d" % (ip_base + 3), ctrl_base + 3,
            user_base + 9,
            accounts=stock_accounts(user_base + 9, servers, self.tp,
                                    self.params),
            extra=self.extra, contacts=contacts)
        return mods, stock

    def setup(self):
        lab = self.lab
        lab.capture()
        for ip in SA + SB:
            lab.kamailio(ip, presence=self.mwi, presence_transport=self.tp)
        lab.uas()
        self.a_mods, self.a_stock = self.phones("A", SA, 10, 4450, 100)
        self.b_mods, self.b_stock = self.phones("B", SB, 20, 4460, 110)
        for p in lab.phones:
            p.start()
        for mode, p in list(self.a_mods.items()) + list(
                self.b_mods.items()):
            C.wait_steady(p, mode, timeout=20, user=p.user)
        wait_stock_registered(lab, self.a_stock, SA)
        wait_stock_registered(lab, self.b_stock, SB)
        self.t_steady = time.time()

    # lab A: idle detection, registered elsewhere, dead-idle, fail-back
    def lab_a(self):
        lab, kind, r = self.lab, self.kind, {}
        pollers = {m: B.Poller(p) for m, p in self.a_mods.items()}
        for p in pollers.values():
            p.start()
        self.a_pollers = pollers
        try:
            # the failure comes at a random moment of the refresh cycle
            # (and of the probe cycle): stock notices it at its next
            # re-REGISTER, the module at its next probe
            r["phase"] = self.rand.uniform(0.5, 0.5 + REFRESH)
            time.sleep(r["phase"])
            self.in_main(lambda: lab.inject(kind, SA[0]))
            t0 = r["t0"] = time.time()
            self.log("A: %s injected on %s" % (kind, SA[0]))
            switched = wait_lines(
                pollers, lambda m: registered_on(m, (2, 3)), 40,
                "lab A modules on a backup")
            aor1 = "sip:%s@%s" % (self.a_stock.user, SA[0])
            ev = wait_stock_event(self.a_stock, "REGISTER_FAIL", aor1, t0,
                                  REFRESH + 32 + 8)
            r["stock_fail"] = ev["t"] if ev else None
            r["stock_fail_param"] = ev.get("param") if ev else None
            self.log("A: modules switched after %s; stock failed after %s"
                     % ({m: round(t - t0, 2) for m, t in switched.items()},
                        ev and round(ev["t"] - t0, 2)))
            t_rec = max([t0 + MIN_DEAD] + [t + 0.3 for t in
                                           switched.values()] +
                        ([ev["t"] + 0.3] if ev else []))
            time.sleep(max(0.0, t_rec - time.time()))
            self.in_main(lambda: lab.recover(kind, SA[0]))
            t_rec = r["t_rec"] = time.time()
            self.log("A: %s recovered after %.1fs" % (SA[0], t_rec - t0))
            wait_lines(pollers, lambda m: registered_on(m, (1,)), 40,
                       "lab A modules back on server 1")
            ok = wait_stock_event(self.a_stock, "REGISTER_OK", aor1,
                                  t_rec, 65)
            r["stock_back"] = ok["t"] if ok else None
            self.log("A: stock back on server 1 after %s" % (
                ok and round(ok["t"] - t_rec, 1)))
            time.sleep(0.5)
        finally:
            for p in pollers.values():
                p.stop()
        r["timeline"] = {m: [(round(t - t0, 3), line and line.get(
            "working"), line and [s.get("state") for s in line["servers"]])
            for t, line in p.samples] for m, p in pollers.items()}
        r["events"] = {m: [(round(e["t"] - t0, 3), e.get("type"),
                            e.get("param")) for e in p.ctrl.events_of()]
                       for m, p in self.a_mods.items()}
        self.res["A"] = r

    # lab B: healthy idle window, then dial while server 1 is failed
    def lab_b(self):
        lab, kind, r = self.lab, self.kind, {}
        r["h0"] = self.t_steady + 0.5
        r["h1"] = r["h0"] + HEALTHY
        time.sleep(max(0.0, r["h1"] - time.time()))
        self.in_main(lambda: lab.inject(kind, SB[0]))
        r["t0"] = time.time()
        self.log("B: %s injected on %s; dialling" % (kind, SB[0]))
        dials = {}
        threads = []
        for name, p in list(self.b_mods.items()) + [("stock",
                                                     self.b_stock)]:
            d = dials[name] = {}
            th = threading.Thread(target=self.dial_one,
                                  args=(p, d, name == "stock"))
            th.start()
            threads.append(th)
        for th in threads:
            th.join(60)
        r["dials"] = dials
        self.log("B: dials done: %s" % {n: d.get("ringing") and round(
            d["ringing"] - d["t_dial"], 2) for n, d in dials.items()})
        for p in [self.b_stock] + list(self.b_mods.values()):
            p.kill_quietly()
        self.in_main(lambda: lab.recover(kind, SB[0]))
        self.res["B"] = r

    def dial_one(self, p, d, stock):
        try:
            d["t_dial"] = time.time()
            p.command("dial 200")
            ev = L.wait_for(lambda: next(
                (e for e in p.ctrl.events_of(since=d["t_dial"])
                 if e.get("type") in ("CALL_RINGING", "CALL_PROGRESS",
                                      "CALL_ESTABLISHED") or
                 (stock and e.get("type") == "CALL_CLOSED")), None),
                40, "ringing or closed", interval=0.05)
            if ev.get("type") == "CALL_CLOSED":
                d["closed"], d["closed_param"] = ev["t"], ev.get("param")
                d["t_redial"] = time.time()
                self.redial(p)
                ev = L.wait_for(lambda: next(
                    (e for e in p.ctrl.events_of(since=d["t_redial"])
                     if e.get("type") in ("CALL_RINGING", "CALL_PROGRESS",
                                          "CALL_ESTABLISHED")), None),
                    10, "ringing after the redial", interval=0.05)
            d["ringing"], d["ringing_type"] = ev["t"], ev.get("type")
            d["ringing_aor"] = ev.get("accountaor")
            time.sleep(0.3)
            t = time.time()
            p.command("hangup")
            L.wait_for(lambda: p.ctrl.events_of("CALL_CLOSED", since=t),
                       5, "hangup", interval=0.05)
        except Exception as e:
            d["error"] = "%s: %s; events since the dial: %s; log: %s" % (
                type(e).__name__, e, [
                    (round(x["t"] - d["t_dial"], 3), x.get("type"),
                     x.get("param")) for x in p.ctrl.events_of(
                        since=d["t_dial"])][:10],
                " | ".join(p.log_text().splitlines()[-8:]))

    def run(self):
        self.setup()
        errors = []

        def guard(fn):
            try:
                fn()
            except Exception as e:
                errors.append("%s: %s\n%s" % (type(e).__name__, e,
                                              traceback.format_exc()))
        ta = threading.Thread(target=guard, args=(self.lab_a,))
        tb = threading.Thread(target=guard, args=(self.lab_b,))
        ta.start()
        tb.start()
        self.serve([ta, tb], 230)
        ta.join(5)
        tb.join(5)
        if ta.is_alive() or tb.is_alive():
            errors.append("a lab thread did not end within 230 s")
        if errors:
            raise L.LabError("\n".join(errors))
        self.lab.capture_proc.terminate()
        self.res["dropped"] = self.lab.dropped()
        self.figures(self.lab.capture_proc.messages())
        return self.res

    # ----------------------------------------------------------------------
    # figures, from the wire, the JSON samples and the events

    def figures(self, msgs):
        A, Bres = self.res["A"], self.res["B"]
        out = self.res["figures"] = {}
        t0, t_rec = A["t0"], A["t_rec"]
        dead0, dead1 = t0 + DEAD_FROM, t_rec
        for name, p in list(self.a_mods.items()) + [("stock",
                                                     self.a_stock)]:
            f = out.setdefault(name, {})
            pm = B.phone_msgs(msgs, p)
            fin = B.Finals(pm)
            sent = B.sent_by(pm, p)
            met = B.first(m.t for m in sent if m.is_request and
                          m.dst == SA[0] and m.t >= t0)
            if name == "stock":
                det = A["stock_fail"]
                f["detect"] = det and det - t0
                f["elsewhere"] = 0.0  # accounts 2, 3 registered all along
                f["switch"] = None
            else:
                pol = self.a_pollers[name]
                # a state that says server 1 failed (not "Registering":
                # a refresh may be under way when the failure comes)
                t_state = pol.first(lambda line: line.get("working") != 1 or
                                    C.server_state(line, 1) in FAILED, t0)
                # (parallel: servers 2, 3 re-REGISTER anyway: not a sign)
                t_reg = None if name == "parallel" else B.first(
                    m.t for m in sent if m.is_request and
                    m.method == "REGISTER" and m.dst in SA[1:] and
                    not m.is_unregister and m.t >= t0)
                det = min([x for x in (t_state, t_reg) if x] or [None]) \
                    if (t_state or t_reg) else None
                f["detect"] = det and det - t0
                # JSON says when; the wire, when it shows the 200 OK
                # that did it (the last one before), says it exactly
                els = pol.first(registered_on(name, (2, 3)), t0)
                if els and name != "parallel":
                    els = B.last_ok_response(pm, SA[1:], t0, els + 0.05,
                                             fin) or els
                f["elsewhere"] = els and els - t0
                start = min([x for x in (met, det) if x] or [None]) \
                    if (met or det) else None
                f["switch"] = (els - start) if els and start else None
                f["met"] = met and met - t0
            if name == "stock":  # REGISTER_OK of account 1 (a late 200
                back = A["stock_back"]  # to a dead transaction is not)
            else:
                back = self.a_pollers[name].first(
                    registered_on(name, (1,)), t_rec)
                if back:
                    back = B.last_ok_response(pm, [SA[0]], t_rec,
                                              back + 0.05, fin) or back
            f["failback"] = back and back - t_rec
            dead = [m for m in sent if dead0 <= m.t < dead1]
            new = {(m.call_id, m.cseq, m.method) for m in dead
                   if m.is_request}
            ok = dead1 > dead0 + 5
            f["dead_per_min"] = len(dead) * 60.0 / (dead1 - dead0) \
                if ok else None
            f["dead_new_per_min"] = len(new) * 60.0 / (dead1 - dead0) \
                if ok else None
            to1 = [m for m in dead if m.dst == SA[0]]
            f["to_dead_per_min"] = len(to1) * 60.0 / (dead1 - dead0) \
                if ok else None
        h0, h1 = Bres["h0"], Bres["h1"]
        for name, p in list(self.b_mods.items()) + [("stock",
                                                     self.b_stock)]:
            f = out.setdefault(name, {})
            pm = B.phone_msgs(msgs, p)
            sent = B.sent_by(pm, p)
            win = [m for m in sent if h0 <= m.t < h1]
            f["idle_per_min"] = len(win) * 60.0 / (h1 - h0)
            opts = {}
            for m in win:
                if m.method == "OPTIONS":
                    opts[m.dst] = opts.get(m.dst, 0) + 1
            if name != "stock":
                f["probes_per_interval"] = max(opts.values() or [0]) / (
                    (h1 - h0) / PROBE_INTERVAL)
            d = Bres["dials"][name]
            if "t_dial" in d:
                ring = B.first(m for m in pm if m.status == 180 and
                               m.dst in p.addrs and m.src in SB[1:] and
                               m.t >= d["t_dial"])
                f["dial"] = ring and ring.t - d["t_dial"]
                if not ring:
                    self.res["keep"] = True
                    self.res["notes"].append(
                        "B %s: no 180 from a backup on the wire (event %s "
                        "after %s s); lab kept" % (
                            name, d.get("ringing_type"),
                            d.get("ringing") and round(
                                d["ringing"] - d["t_dial"], 3)))
                f["dial_via"] = ring and ring.src
                invs = [m for m in sent if m.method == "INVITE" and
                        m.t >= d["t_dial"]]
                f["dial_invites"] = [(round(m.t - d["t_dial"], 3), m.dst)
                                     for m in invs][:12]
                if "closed" in d:
                    f["dial_first_fails"] = d["closed"] - d["t_dial"]
                    f["dial_first_param"] = d.get("closed_param")
            if d.get("error"):
                self.res["notes"].append("B %s: %s" % (name, d["error"]))


def on_sigterm(signum, frame):
    raise SystemExit("stopped by SIGTERM (bench timeout)")


def child_run(args):
    signal.signal(signal.SIGTERM, on_sigterm)
    L.net_up()
    log = make_log(args.dir)
    result = {"ok": False}
    lab = B.BenchLab(args.dir, args.module)
    try:
        run = Run(lab, args.kind, args.modes.split(","), log, args.mwi)
        result = run.run()
        result["ok"] = True
    except BaseException as e:  # SystemExit from the timeout too
        result = {"ok": False, "reason": "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc())}
    finally:
        try:
            for died in lab.close():
                result.setdefault("notes", []).append(died)
        except Exception as e:
            result.setdefault("notes", []).append("cleanup: %s" % e)
        with open(os.path.join(args.dir, "result.json"), "w") as f:
            json.dump(result, f)
    return 0 if result["ok"] else 1


# --------------------------------------------------------------------------
# child: cost (memory, CPU) of idle baresips


COST_LINES = [0, 1, 8, 32]


def child_cost(args):
    signal.signal(signal.SIGTERM, on_sigterm)
    L.net_up()
    log = make_log(args.dir)
    result = {"ok": False}
    lab = B.BenchLab(args.dir, args.module)
    try:
        result = cost(lab, args.window, log)
        result["ok"] = True
    except BaseException as e:
        result = {"ok": False, "reason": "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc())}
    finally:
        try:
            for died in lab.close():
                result.setdefault("notes", []).append(died)
        except Exception as e:
            result.setdefault("notes", []).append("cleanup: %s" % e)
        with open(os.path.join(args.dir, "result.json"), "w") as f:
            json.dump(result, f)
    return 0 if result["ok"] else 1


def cost(lab, window, log):
    lab.capture()
    for ip in SA:
        lab.kamailio(ip)
    phones = {}
    for i, n in enumerate(COST_LINES):
        mu = [5000 + 100 * i + k for k in range(n)]
        su = [6000 + 100 * i + k for k in range(n)]
        # module: n lines of 3 servers, the README's defaults (parallel
        # mode, sfo_probe_interval 30, ...), regint=600
        sfo = "".join("<sip:%d@%s;transport=udp>;regint=600\n" % (u, ip)
                      for u in mu for ip in SA)
        acc = "".join("<sip:%d@%s;transport=udp>;regint=600\n" % (u, ip)
                      for u in su for ip in SA)
        phones[("module", n)] = lab.phone(
            "cost-module-%d" % n, "127.0.0.%d" % (30 + i), 4470 + i, mu,
            module=lab.module, srvfailover=sfo)
        phones[("stock", n)] = lab.phone(
            "cost-stock-%d" % n, "127.0.0.%d" % (40 + i), 4480 + i, su,
            accounts=acc)
    for p in phones.values():
        p.start()

    waiting = {}

    def settled():
        waiting.clear()
        for (what, n), p in phones.items():
            if not n:
                continue
            if what == "module":
                st = p.status()
                bad = [C.describe(st, line.get("user"))
                       for line in st.get("lines", [])
                       if not registered_on("parallel", (1,))(line) or any(
                           not s["state"].startswith("Registered")
                           for s in line["servers"])]
                if bad or len(st.get("lines", [])) != n:
                    waiting[p.name_] = "%d lines: %s" % (
                        len(st.get("lines", [])), bad[:2])
            else:
                oks = [x for x in re.sub(r"\x1b\[[0-9;]*m", " ",
                                         p.command("reginfo")).splitlines()
                       if "sip:" in x and " OK " in x]
                if len(oks) < 3 * n:
                    waiting[p.name_] = "%d of %d registered" % (
                        len(oks), 3 * n)
        return not waiting
    try:
        L.wait_for(settled, 60, "every cost phone registered",
                   interval=0.5)
    except L.LabError as e:
        raise L.LabError("%s: %s" % (e, waiting))
    time.sleep(5)
    log("cost: all registered; idle window %ds" % window)
    t0 = time.time()
    cpu0 = {k: p.cpu_ticks() for k, p in phones.items()}
    ns0 = {k: p.cpu_ns() for k, p in phones.items()}
    rss = {k: [] for k in phones}
    while time.time() < t0 + window:
        for k, p in phones.items():
            rss[k].append(p.vmrss_kib())
        time.sleep(2)
    t1 = time.time()
    cpu1 = {k: p.cpu_ticks() for k, p in phones.items()}
    ns1 = {k: p.cpu_ns() for k, p in phones.items()}
    for k, p in phones.items():
        rss[k].append(p.vmrss_kib())
    lab.capture_proc.terminate()
    dropped = lab.dropped()
    msgs = lab.capture_proc.messages()
    out = []
    for (what, n), p in phones.items():
        k = (what, n)
        sent = [m for m in B.sent_by(B.phone_msgs(msgs, p), p)
                if t0 <= m.t < t1]
        out.append({"what": what, "lines": n,
                    "rss_kib": B.median(rss[k]),
                    "cpu_ms_per_min": (cpu1[k] - cpu0[k]) * 1000.0 /
                    B.CLK_TCK * 60.0 / (t1 - t0),
                    "cpu_precise_ms_per_min": (ns1[k] - ns0[k]) / 1e6 *
                    60.0 / (t1 - t0),
                    "msgs_per_min": len(sent) * 60.0 / (t1 - t0)})
    return {"window": t1 - t0, "cost": out, "dropped": dropped}


def make_log(directory):
    path = os.path.join(directory, "bench.log")

    def log(text):
        with open(path, "a") as f:
            f.write("%.3f %s\n" % (time.time(), text))
    return log


# --------------------------------------------------------------------------
# parent: runs children, aggregates, prints, writes CSV and timeline


def spawn(child_args, timeout, keep):
    directory = tempfile.mkdtemp(prefix="sfo-bench-")
    argv = ["unshare", "-n", sys.executable, os.path.abspath(__file__),
            "--dir", directory] + child_args
    started = time.monotonic()
    with open(os.path.join(directory, "child.log"), "wb") as logf:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=logf, stderr=subprocess.STDOUT)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                L.kill_tree(child.pid)
                child.wait(5)
    # anything the child left (orphans come to us, a subreaper) is ours
    left = L.descendants(os.getpid())
    if left:
        L.signal_pids(left, signal.SIGKILL)
        time.sleep(0.2)
        print("bench: killed %d process(es) a run left behind" % len(left),
              flush=True)
    L.reap()
    took = time.monotonic() - started
    try:
        with open(os.path.join(directory, "result.json")) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = {"ok": False, "reason": "child ended (%s) without a result"
               % child.returncode}
    res["took"] = took
    if res.get("ok") and not keep and not res.get("keep"):
        shutil.rmtree(directory, ignore_errors=True)
    else:
        res["dir"] = directory
    return res


def fmt(v, unit="s"):
    if v is None:
        return "-"
    if unit == "s":
        return "%.3f" % v if v < 0.1 else "%.2f" % v if v < 10 else \
            "%.1f" % v
    if unit in ("/min", "KiB", "ms/min"):
        return "%.0f" % v if v >= 10 else "%.1f" % v if v >= 1 or \
            v == 0 else "%.2f" % v
    return "%.2f" % v


def fmt_ratio(r):
    if r is None:
        return "-"
    if r >= 1000:
        return ">999x"
    return ("%.0fx" if r >= 10 else "%.1fx" if r >= 1 else "%.2fx") % r


def stats(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": B.median(v), "min": min(v), "max": max(v),
            "n": len(v), "of": len(values)}


def cell(st, unit="s"):
    if not st:
        return "-"
    s = fmt(st["median"], unit)
    if st["n"] > 1:
        s += " [%s..%s]" % (fmt(st["min"], unit), fmt(st["max"], unit))
    if st["n"] < st["of"]:
        s += " (%d/%d)" % (st["n"], st["of"])
    return s


FIGURES = [
    # key, label, unit
    ("detect", "detect (failure -> state change / other server)", "s"),
    ("switch", "registered elsewhere, from the request meeting it", "s"),
    ("elsewhere", "registered elsewhere, from the failure", "s"),
    ("dial", "dial -> 180 Ringing via a backup", "s"),
    ("failback", "fail-back after recovery", "s"),
    ("idle_per_min", "SIP msgs sent/min idle, all servers up", "/min"),
    ("probes_per_interval", "OPTIONS per server per probe interval", "x"),
    ("dead_per_min", "SIP msgs sent/min idle, server 1 failed", "/min"),
    ("dead_new_per_min", "  of which new requests (not retransmissions)",
     "/min"),
    ("to_dead_per_min", "  of which to server 1, the failed one", "/min"),
]


def target(kind, key, stock=None):
    """(text, check(median)) of the issue-5 and issue-12 target for a
    figure; stock: stock baresip's stats of the same figure."""
    silent = kind in B.SILENT
    if key == "to_dead_per_min":
        # a server answering 503 is not dead: what it gets follows the
        # configured back-off (2 s here, stock's is 30 s)
        if not stock or kind == "503":
            return ("", None)
        lim = 2 * stock["median"]
        return ("<= 2x stock (%.1f/min)" % lim, lambda v: v <= lim)
    if key == "switch":
        if silent:
            lim = BUDGET + 0.5
            return ("<= %.1f s (budget %.1f + 0.5)" % (lim, BUDGET),
                    lambda v: v <= lim)
        return ("< 1 s", lambda v: v < 1.0)
    if key == "dial":
        if silent:
            lim = BUDGET + 0.5
            return ("<= %.1f s (INVITE budget + 0.5)" % lim,
                    lambda v: v <= lim)
        return ("< 1 s", lambda v: v < 1.0)
    if key == "probes_per_interval":
        return ("<= 1", lambda v: v <= 1.0 + 1e-9)
    return ("", None)


STOCK_NOTE = {
    "switch": "never moves",
    "elsewhere": "all regd",
    "probes_per_interval": "no probes",
}


def aggregate(results, modes, kinds):
    """rows: dicts for the table and the CSV."""
    rows = []
    for kind in kinds:
        runs = [r for r in results if r.get("kind") == kind and r.get("ok")]
        for key, label, unit in FIGURES:
            stock_vals = [r["figures"]["stock"].get(key) for r in runs]
            sst = stats(stock_vals) if key not in ("switch",
                                                   "probes_per_interval") \
                else None
            for mode in modes:
                mst = stats([r["figures"][mode].get(key) for r in runs])
                ttext, check = target(kind, key, sst)
                verdict = ""
                if check and mst:
                    verdict = "ok" if check(mst["median"]) else "MISS"
                ratio = None
                if sst and mst and mst["median"] > 0 and sst["median"] > 0:
                    ratio = sst["median"] / mst["median"]
                rows.append({
                    "section": "failover", "kind": kind, "mode": mode,
                    "figure": key, "label": label, "unit": unit,
                    "module": mst, "stock": sst,
                    "stock_note": STOCK_NOTE.get(key, ""),
                    "ratio": ratio, "target": ttext, "verdict": verdict,
                    "runs": len(runs)})
    return rows


COST_FIGURES = [
    ("rss_kib", "VmRSS", "KiB"),
    ("cpu_ms_per_min", "CPU utime+stime (/proc/PID/stat)", "ms/min"),
    ("cpu_precise_ms_per_min", "CPU, all threads (schedstat)", "ms/min"),
    ("msgs_per_min", "SIP msgs sent/min (window)", "/min"),
]


def cost_rows(costs):
    rows = []
    costs = [c for c in costs if c.get("ok")]
    if not costs:
        return rows
    for n in COST_LINES:
        for key, label, unit in COST_FIGURES:
            def vals(what):
                return [x[key] for c in costs for x in c["cost"]
                        if x["what"] == what and x["lines"] == n]
            mv, sv = vals("module"), vals("stock")
            mst, sst = stats(mv), stats(sv)
            ttext, verdict = "", ""
            if key == "rss_kib" and mst and sst:
                extra = mst["median"] - sst["median"]
                ttext = "extra %+.0f KiB" % extra
                if n == 8:
                    ttext += " (target <= 1024)"
                    verdict = "ok" if extra <= 1024 else "MISS"
            ratio = (sst["median"] / mst["median"]) if mst and sst and \
                mst["median"] > 0 and sst["median"] > 0 else None
            rows.append({"section": "cost", "kind": "idle",
                         "mode": "%d lines" % n, "figure": key,
                         "label": label, "unit": unit, "module": mst,
                         "stock": sst, "stock_note": "", "ratio": ratio,
                         "target": ttext, "verdict": verdict,
                         "runs": len(costs)})
    return rows


def print_table(rows, modes, kinds, cost_window, out):
    w = out.write
    for kind in kinds:
        krows = [r for r in rows if r["kind"] == kind]
        if not krows:
            continue
        w("\n== %s  (runs: %d) ==\n" % (B.KINDS[kind][0], krows[0]["runs"]))
        w("%-52s %-10s %-24s %-24s %7s  %s\n" % (
            "figure", "mode", "module med [min..max]",
            "stock med [min..max]", "stk/mod", "target"))
        for key, label, unit in FIGURES:
            for r in [x for x in krows if x["figure"] == key]:
                u = "" if unit == "x" else " " + unit
                w("%-52s %-10s %-24s %-24s %7s  %s\n" % (
                    (label + u) if r["mode"] == modes[0] else "",
                    r["mode"], cell(r["module"], unit),
                    (cell(r["stock"], unit) + (" (%s)" % r["stock_note"]
                                               if r["stock_note"] else ""))
                    if r["stock"] else (r["stock_note"] or "-"),
                    fmt_ratio(r["ratio"]),
                    ("%s %s" % (r["verdict"], r["target"])).strip()))
    crow = [r for r in rows if r["section"] == "cost"]
    if crow:
        w("\n== cost: idle baresip, N lines x 3 servers (kamailio); module:"
          " parallel mode, README defaults (sfo_probe_interval 30),"
          " regint 600; stock: the same 3N servers as accounts (regint "
          "600), no module; %d run(s) of a %.0f s window ==\n" % (
              crow[0]["runs"], cost_window))
        w("%-40s %-9s %-22s %-22s %7s  %s\n" % (
            "figure", "lines", "module med [min..max]",
            "stock med [min..max]", "stk/mod", "target"))
        for r in crow:
            w("%-40s %-9s %-22s %-22s %7s  %s\n" % (
                "%s (%s)" % (r["label"], r["unit"]), r["mode"],
                cell(r["module"], r["unit"]), cell(r["stock"], r["unit"]),
                fmt_ratio(r["ratio"]),
                ("%s %s" % (r["verdict"], r["target"])).strip()))


def write_summary(rows, modes, kinds, path, header):
    """The same figures as markdown, medians only (docs/figures.md)."""
    def get(kind, mode, key):
        return next((r for r in rows if r["kind"] == kind and
                     r["mode"] == mode and r["figure"] == key), None)

    def med(st, unit="s"):
        return fmt(st["median"], unit) if st else "-"

    out = [header, "",
           "| failure | mode | detect | registered elsewhere "
           "(after the request that met it) | dial -> 180 via backup | "
           "fail-back | SIP msgs/min idle: all up / server 1 failed | "
           "of those, to server 1 |",
           "|---|---|---|---|---|---|---|---|"]
    for kind in kinds:
        for mode in modes:
            d, sw, di, fb, up, dead, to1 = (get(kind, mode, k) for k in (
                "detect", "switch", "dial", "failback", "idle_per_min",
                "dead_per_min", "to_dead_per_min"))
            if not d:
                continue

            def both(r, unit="s"):
                return "%s (stock %s)" % (med(r["module"], unit),
                                          med(r["stock"], unit))

            def tgt(r, unit="s"):
                if not r["verdict"]:
                    return med(r["module"], unit)
                return "%s %s %s" % (med(r["module"], unit), r["verdict"],
                                     r["target"].split(" (")[0])
            out.append("| %s | %s | %s | %s | %s | %s | %s / %s (stock "
                       "%s / %s) | %s (stock %s) |" % (
                           B.KINDS[kind][0] if mode == modes[0] else "",
                           mode, both(d), tgt(sw),
                           "%s (stock %s)" % (tgt(di), med(di["stock"])),
                           both(fb), med(up["module"], "/min"),
                           med(dead["module"], "/min"),
                           med(up["stock"], "/min"),
                           med(dead["stock"], "/min"),
                           tgt(to1, "/min") if to1 else "-",
                           med(to1["stock"], "/min") if to1 else "-"))
    crow = [r for r in rows if r["section"] == "cost"]
    if crow:
        out += ["", "| lines x 3 servers | VmRSS module / stock (KiB) | "
                "extra | CPU (schedstat) module / stock, ms/min |",
                "|---|---|---|---|"]
        for n in COST_LINES:
            m = next((r for r in crow if r["mode"] == "%d lines" % n and
                      r["figure"] == "rss_kib"), None)
            c = next((r for r in crow if r["mode"] == "%d lines" % n and
                      r["figure"] == "cpu_precise_ms_per_min"), None)
            if not (m and m["module"] and m["stock"]):
                continue
            out.append("| %d | %s / %s | %+.0f KiB%s | %s / %s |" % (
                n, med(m["module"], "KiB"), med(m["stock"], "KiB"),
                m["module"]["median"] - m["stock"]["median"],
                " (%s, target <= 1024)" % m["verdict"] if m["verdict"]
                else "", med(c["module"], "ms/min"),
                med(c["stock"], "ms/min")))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        c = csv.writer(f)
        c.writerow(["section", "kind", "mode", "figure", "unit", "runs",
                    "module_median", "module_min", "module_max",
                    "stock_median", "stock_min", "stock_max", "stock_note",
                    "stock_over_module", "target", "verdict"])
        for r in rows:
            m, s = r["module"] or {}, r["stock"] or {}

            def g(d, k):
                v = d.get(k)
                return "" if v is None else "%.4g" % v
            c.writerow([r["section"], r["kind"], r["mode"], r["figure"],
                        r["unit"], r["runs"], g(m, "median"), g(m, "min"),
                        g(m, "max"), g(s, "median"), g(s, "min"),
                        g(s, "max"), r["stock_note"] if not s else "",
                        "" if r["ratio"] is None else "%.3g" % r["ratio"],
                        r["target"], r["verdict"]])


# --------------------------------------------------------------------------
# the timeline picture


STATE_ORDER = ["Deactivated", "Standby", "Unreachable",
               "Registration failed", "Registering", "Reachable",
               "Registered", "Registered*"]


def timeline(tl, png, workdir):
    """gnuplot step chart of every server's state of one phone, from a
    timeline child's result."""
    samples, mode, kind = tl["samples"], tl["mode"], tl["kind"]
    t_rec, end = tl["t_rec"], tl["end"]
    samples = [s for s in samples if s[2]]
    if not samples:
        return None
    nserv = len(samples[0][2])
    os.makedirs(workdir, exist_ok=True)
    used = [sorted({s[2][i] for s in samples},
                   key=STATE_ORDER.index) for i in range(nserv)]
    for i in range(nserv):
        with open(os.path.join(workdir, "server%d.dat" % (i + 1)),
                  "w") as f:
            for t, _w, st in samples:
                f.write("%.3f %d\n" % (t, used[i].index(st[i])))
    with open(os.path.join(workdir, "working.dat"), "w") as f:
        for t, wk, _st in samples:
            f.write("%.3f %d\n" % (t, wk or 0))
    what = {"503": "answers 503", "tcp": "is killed (TCP refused)",
            "icmp": "is killed (UDP: ICMP unreachable)",
            "hang": "hangs (SIGSTOP)", "drop": "is cut off (nft drop)"}
    title = ("srvfailover, %s mode: server 1 (%s) %s at t = 0 and is back "
             "at t = %.1f s\\n%s state polled every 100 ms; "
             "sfo_probe_interval=2, sfo_retries=3 (budget 3.5 s), "
             "sfo_failback=immediate, regint=%d" % (
                 mode, SA[0], what[kind], t_rec, "srvfailover json",
                 REGINT))
    g = ["set terminal pngcairo size 1000,%d font 'sans,10'" % (
        150 * (nserv + 1) + 90),
         "set termoption noenhanced",
         "set output '%s'" % png,
         "set multiplot layout %d,1 title \"%s\" margins 0.17,0.97,0.08,"
         "0.89 spacing 0,0.045" % (nserv + 1, title),
         "set xrange [%.1f:%.1f]" % (samples[0][0], end),
         "set grid xtics", "unset key",
         "set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2 lw 1.5 "
         "lc rgb 'red'",
         "set arrow 2 from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 "
         "lw 1.5 lc rgb 'dark-green'" % (t_rec, t_rec),
         "set format x ''"]
    for i in range(nserv):
        tics = ", ".join("'%s' %d" % (s, k) for k, s in
                         enumerate(used[i]))
        g += ["set title 'server %d  %s' offset 0,-0.6" % (i + 1, SA[i]),
              "set ytics (%s)" % tics,
              "set yrange [-0.6:%.1f]" % (len(used[i]) - 0.4),
              "plot '%s' using 1:2 with steps lw 2.5 lc rgb '#1f5fa0'"
              % os.path.join(workdir, "server%d.dat" % (i + 1))]
    g += ["set title 'working server (new calls go here)' offset 0,-0.6",
          "set ytics (%s)" % ", ".join(
              ["'none' 0"] + ["'%d' %d" % (k, k) for k in
                              range(1, nserv + 1)]),
          "set yrange [-0.6:%.1f]" % (nserv + 0.6),
          "set format x '%g'",
          "set xlabel 'seconds after server 1 failed (red: failure, "
          "green: server 1 back)'",
          "plot '%s' using 1:2 with steps lw 2.5 lc rgb '#a05f1f'"
          % os.path.join(workdir, "working.dat"),
          "unset multiplot"]
    with open(os.path.join(workdir, "timeline.gp"), "w") as f:
        f.write("\n".join(g) + "\n")
    r = subprocess.run(["gnuplot", os.path.join(workdir, "timeline.gp")],
                       capture_output=True, text=True, timeout=60)
    if r.returncode:
        print("bench: gnuplot failed: %s" % r.stderr.strip())
        return None
    return png


def child_timeline(args):
    """One phone, one failover and fail-back, JSON polled every 100 ms."""
    signal.signal(signal.SIGTERM, on_sigterm)
    L.net_up()
    result = {"ok": False}
    lab = B.BenchLab(args.dir, args.module)
    mode, kind = args.mode, args.kind
    try:
        for ip in SA:
            lab.kamailio(ip)
        p = lab.phone("tl-" + mode, "127.0.0.10", 4450, 100,
                      module=args.module, srvfailover=module_config(
                          mode, 100, SA, B.KINDS[kind][1])).start()
        C.wait_steady(p, mode, timeout=20, user="100")
        pol = B.Poller(p)
        pol.start()
        time.sleep(3)
        lab.inject(kind, SA[0])
        t0 = time.time()
        L.wait_for(lambda: registered_on(mode, (2, 3))(pol.last() or {}),
                   30, "on a backup", interval=0.1)
        time.sleep(max(0.0, t0 + args.down - time.time()))
        lab.recover(kind, SA[0])
        t_rec = time.time()
        L.wait_for(lambda: C.STEADY[mode] == {
            s["prio"]: s["state"] for s in (pol.last() or {}).get(
                "servers", [])}, 40, "steady again", interval=0.1)
        time.sleep(4)
        end = time.time()
        pol.stop()
        result = {"ok": True, "mode": mode, "kind": kind,
                  "t_rec": t_rec - t0, "end": end - t0,
                  "samples": [(round(t - t0, 3), line and line.get(
                      "working"), line and [s.get("state") for s in
                                            line["servers"]])
                              for t, line in pol.samples],
                  "log": p.lines("srvfailover:")}
    except BaseException as e:
        result = {"ok": False, "reason": "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc())}
    finally:
        try:
            for died in lab.close():
                result.setdefault("notes", []).append(died)
        except Exception as e:
            result.setdefault("notes", []).append("cleanup: %s" % e)
        with open(os.path.join(args.dir, "result.json"), "w") as f:
            json.dump(result, f)
    return 0 if result["ok"] else 1


# --------------------------------------------------------------------------


FLEET_PHONES = 10000


def child_fleet(args):
    """The fleet view: FLEET_PHONES phones' retained states (a small
    simulator publishes them, each like a phone's with 3 servers) read
    by srvfailover-ctl fleet, 3 times; the medians of --json and the
    table."""
    signal.signal(signal.SIGTERM, on_sigterm)
    L.net_up()
    lab = B.BenchLab(args.dir, args.module)
    result = {"ok": False}
    ctl = os.path.join(B.TOP, "contrib", "srvfailover-ctl")
    try:
        lab.mosquitto()
        line = {"user": "100", "mode": "cisco", "working": 1,
                "servers": [{"prio": p, "uri": "sip:10.10.1.%d" % p,
                             "state": "Registered" if p == 1 else
                             "Reachable", "transport": "udp",
                             "since_s": 100, "last_code": 200,
                             "last_text": "200 OK", "failures": 0,
                             "rtt_ms": 2, "calls": 0} for p in (1, 2, 3)],
                "failback": "immediate", "failovers": 0, "failbacks": 0,
                "last_switch": "server 1 registered", "mwi": None,
                "presence": None}
        c = L.mqtt_client()
        c.connect(L.BROKER, 1883, 30)
        c.loop_start()
        for i in range(FLEET_PHONES):
            phone = "pi-%05d" % i
            c.publish("srvfailover/%s/state" % phone, json.dumps(
                {"lines": [line], "phone": phone, "online": True}),
                qos=1, retain=True).wait_for_publish()
        c.loop_stop()
        c.disconnect()
        took = {"json": [], "table": []}
        for _ in range(3):
            for kind, extra in (("json", ["--json"]), ("table", [])):
                t = time.monotonic()
                r = subprocess.run([sys.executable, ctl, "fleet",
                                    "--broker", L.BROKER] + extra,
                                   capture_output=True, text=True,
                                   timeout=60)
                took[kind].append(time.monotonic() - t)
                if r.returncode:
                    raise L.LabError("fleet exited %d: %s" % (
                        r.returncode, r.stderr[-300:]))
        n = len(json.loads(subprocess.run(
            [sys.executable, ctl, "fleet", "--broker", L.BROKER, "--json"],
            capture_output=True, text=True, timeout=60).stdout)["phones"])
        result = {"ok": n == FLEET_PHONES, "phones": n,
                  "json": statistics.median(took["json"]),
                  "table": statistics.median(took["table"])}
    except Exception as e:
        result = {"ok": False, "reason": str(e)}
    finally:
        lab.close()
        with open(os.path.join(args.dir, "result.json"), "w") as f:
            json.dump(result, f)
    return 0


# --------------------------------------------------------------------------
# child: a phone's cost of MQTT (issue 17)


def fleet_sfo(user, mode=None):
    """1 line of the 3 lab A servers, the README's defaults (parallel
    mode, sfo_probe_interval 30; mode: else), regint=600."""
    return "".join("<sip:%d@%s;transport=udp>;regint=600%s\n" % (
        user, ip, ";sfo_mode=" + mode if mode and i == 0 else "")
        for i, ip in enumerate(SA))


def child_mqtt(args):
    """Two idle phones, the same but one with srvfailover_mqtt_broker:
    VmRSS (median of the window's samples) and CPU time (utime+stime, and
    schedstat) over the window, as per idle hour, and the MQTT messages
    the phone sent while idle; then server 1 killed: the messages on the
    broker for that one switch."""
    signal.signal(signal.SIGTERM, on_sigterm)
    L.net_up()
    log = make_log(args.dir)
    lab = B.BenchLab(args.dir, args.module)
    result = {"ok": False}
    col = None
    try:
        lab.mosquitto()
        kams = {ip: lab.kamailio(ip) for ip in SA}
        msgs, lock = [], threading.Lock()
        col = L.mqtt_client()

        def got(c, u, m):
            with lock:
                msgs.append((time.time(), m.topic, m.payload.decode()))
        col.on_message = got
        col.on_connect = lambda c, u, f, rc: c.subscribe("srvfailover/#",
                                                         qos=1)
        col.connect(L.BROKER, 1883, 30)
        col.loop_start()
        off = ["srvfailover_http_listen off"]
        phones = {
            "mqtt": lab.phone("mqtt", "127.0.0.30", 4470, 300,
                              module=lab.module, srvfailover=fleet_sfo(300),
                              extra=off + [
                                  "srvfailover_mqtt_broker " + L.BROKER,
                                  "srvfailover_mqtt_id bench-1"]),
            "plain": lab.phone("plain", "127.0.0.31", 4471, 301,
                               module=lab.module,
                               srvfailover=fleet_sfo(301), extra=off)}
        for p in phones.values():
            p.start()
        def every(line):
            return line.get("working") == 1 and all(
                s["state"].startswith("Registered")
                for s in line["servers"])
        L.wait_for(lambda: all(
            every(p.status()["lines"][0]) for p in phones.values()), 30,
            "both phones registered at the 3 servers", interval=0.5)
        L.wait_for(lambda: msgs, 10, "the phone's state on the broker")
        time.sleep(5)
        log("mqtt: idle window %ds" % args.window)
        t0 = time.time()
        cpu0 = {k: p.cpu_ticks() for k, p in phones.items()}
        ns0 = {k: p.cpu_ns() for k, p in phones.items()}
        rss = {k: [] for k in phones}
        while time.time() < t0 + args.window:
            for k, p in phones.items():
                rss[k].append(p.vmrss_kib())
            time.sleep(2)
        t1 = time.time()
        hour = 3600.0 / (t1 - t0)
        res = {}
        for k, p in phones.items():
            res[k] = {"rss_kib": B.median(rss[k]),
                      "cpu_s_per_hour": (p.cpu_ticks() - cpu0[k]) /
                      B.CLK_TCK * hour,
                      "cpu_precise_s_per_hour": (p.cpu_ns() - ns0[k]) /
                      1e9 * hour}
        with lock:
            res["idle_msgs_per_hour"] = len(
                [m for m in msgs if t0 <= m[0] < t1]) * hour
        # one switch: server 1 killed (parallel mode: found at the next
        # keep-alive, up to 30 s); every message from then until 5 s
        # after the phone is on server 2 with nothing more coming
        t = time.time()
        kams[SA[0]].kill()
        mq = phones["mqtt"]
        L.wait_for(lambda: mq.status()["lines"][0].get("working") == 2,
                   70, "the MQTT phone on server 2", interval=0.5)
        n = -1
        while True:   # until 5 s without a message
            time.sleep(5)
            with lock:
                now = [m for m in msgs if m[0] >= t]
            if len(now) == n:
                break
            n = len(now)
        res["switch_msgs"] = len(now)
        res["switch_events"] = len([m for m in now if
                                    m[1].endswith("/event")])
        res["switch_states"] = len([m for m in now if
                                    m[1].endswith("/state")])
        res["switch_after"] = min(m[0] for m in now) - t if now else None
        res["window"] = t1 - t0
        res["ok"] = True
        result = res
    except Exception as e:
        result = {"ok": False, "reason": "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc())}
    finally:
        if col:
            col.loop_stop()
        lab.close()
        with open(os.path.join(args.dir, "result.json"), "w") as f:
            json.dump(result, f)
    return 0


# --------------------------------------------------------------------------
# child: the REGISTER surge a PBX sees when N phones start together


def peak_per_second(times):
    """The most of times in any 1 s window."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def child_surge(args):
    """args.phones phones (srvfailover_start_delay args.delay, cisco
    mode: one REGISTER each to server 1; or --stock: stock baresips with
    the same 3 servers as accounts) started at once, as after a power
    cut. From the capture: the REGISTERs server 1 (the PBX) gets, peak
    per 1 s, and the spread of the phones' first REGISTERs."""
    signal.signal(signal.SIGTERM, on_sigterm)
    L.net_up()
    lab = B.BenchLab(args.dir, args.module)
    result = {"ok": False}
    try:
        lab.capture()
        kams = {ip: lab.kamailio(ip) for ip in SA}
        phones = []
        for i in range(args.phones):
            user = 400 + i
            ip, ctrl = "127.0.0.%d" % (100 + i), 4500 + i
            if args.stock:
                phones.append(lab.phone(
                    "s%d" % i, ip, ctrl, user,
                    accounts="".join("<sip:%d@%s;transport=udp>;regint=600"
                                     "\n" % (user, x) for x in SA)))
            else:
                phones.append(lab.phone(
                    "m%d" % i, ip, ctrl, user, module=lab.module,
                    srvfailover=fleet_sfo(user, "cisco"),
                    extra=["srvfailover_http_listen off",
                           "srvfailover_start_delay %d" % args.delay]))
        t0 = time.time()
        for p in phones:   # all at once: ctrl_tcp waited for afterwards
            L.Proc.start(p)
        started = time.time() - t0
        for p in phones:
            host, port = p.ctrl_addr.rsplit(":", 1)
            L.wait_for(lambda: (not p.running()) or L.bound(
                host, int(port), "tcp"), 20, "%s's ctrl_tcp" % p.name,
                interval=0.05)
            if not p.running():
                raise L.LabError("%s exited at start" % p.name)
        want = {str(400 + i) for i in range(args.phones)}
        L.wait_for(lambda: want <= {c["aor"].split("@")[0].replace(
            "sip:", "") for c in kams[SA[0]].contacts()},
            args.delay + 40, "every phone registered at server 1",
            interval=0.5)
        time.sleep(1)
        lab.capture_proc.terminate()
        regs = [m for m in L.requests(lab.capture_proc.messages(),
                                      "REGISTER", dst=SA[0])
                if not m.is_unregister]
        firsts = {}
        for m in regs:
            firsts.setdefault(m.src, m.t)
        if len(firsts) != args.phones:
            raise L.LabError("first REGISTERs of %d phones, not %d" % (
                len(firsts), args.phones))
        ft = sorted(firsts.values())
        result = {"ok": True, "phones": args.phones, "delay": args.delay,
                  "stock": args.stock, "started_in": started,
                  "registers": len(regs), "peak": peak_per_second(
                      [m.t for m in regs]),
                  "first_peak": peak_per_second(ft),
                  "spread": ft[-1] - ft[0], "last": ft[-1] - t0,
                  "dropped": lab.dropped()}
    except Exception as e:
        result = {"ok": False, "reason": "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc())}
    finally:
        lab.close()
        with open(os.path.join(args.dir, "result.json"), "w") as f:
            json.dump(result, f)
    return 0


def fleet_figures(args, module):
    """Issue 17's figures: a phone's cost of MQTT, the REGISTER surge
    with and without srvfailover_start_delay (stock: no delay, the 0
    row). Printed with ok/MISS; returns them (runs.json)."""
    out = {"mqtt": [], "surge": {}}
    for i in range(args.runs):
        r = spawn(["--child", "mqtt", "--window", str(args.fleet_window),
                   "--module", module], args.fleet_window + 180,
                  args.keep)
        out["mqtt"].append(r)
        print("bench: MQTT cost run %d/%d %.0fs%s" % (
            i + 1, args.runs, r["took"], "" if r.get("ok") else
            "  FAILED: %s (lab kept in %s)" % (
                r.get("reason", "?").strip().splitlines()[0],
                r.get("dir"))), flush=True)
    delays = [("stock", 0)] + [("module", d) for d in args.surge_delays]
    for i in range(args.runs):
        for what, d in delays:
            r = spawn(["--child", "surge", "--phones",
                       str(args.surge_phones), "--delay", str(d),
                       "--module", module] +
                      (["--stock"] if what == "stock" else []),
                      d + 150, args.keep)
            out["surge"].setdefault("%s %d" % (what, d), []).append(r)
            print("bench: surge run %d/%d %s delay %d: %.0fs%s" % (
                i + 1, args.runs, what, d, r["took"],
                "  peak %d/s, spread %.2f s" % (r["peak"], r["spread"])
                if r.get("ok") else "  FAILED: %s (lab kept in %s)" % (
                    r.get("reason", "?").strip().splitlines()[0],
                    r.get("dir"))), flush=True)

    def med(rs, key):
        v = [r[key] for r in rs if r.get("ok") and r.get(key) is not None]
        return statistics.median(v) if v else None

    def verdict(ok):
        return "ok" if ok else "MISS"
    w = sys.stdout.write
    ms = [r for r in out["mqtt"] if r.get("ok")]
    w("\n== fleets (issue 17): a phone's cost of MQTT; idle phone, 1 line "
      "x 3 servers, README defaults (parallel, sfo_probe_interval 30), "
      "regint 600; %d run(s) of a %d s window, per idle hour ==\n" % (
          len(ms), args.fleet_window))
    if ms:
        def both(key):
            return [statistics.median([r[k][key] for r in ms])
                    for k in ("mqtt", "plain")]
        rw, rp = both("rss_kib")
        cw, cp = both("cpu_s_per_hour")
        pw, pp = both("cpu_precise_s_per_hour")
        w("%-44s %12s %12s %12s\n" % ("figure", "with MQTT", "without",
                                       "extra"))
        w("%-44s %12.0f %12.0f %+12.0f  %s (target <= 1024)\n" % (
            "VmRSS (KiB)", rw, rp, rw - rp, verdict(rw - rp <= 1024)))
        w("%-44s %12.2f %12.2f %+12.2f\n" % (
            "CPU per idle hour, utime+stime (s)", cw, cp, cw - cp))
        w("%-44s %12.2f %12.2f %+12.2f\n" % (
            "CPU per idle hour, schedstat (s)", pw, pp, pw - pp))
        w("%-44s %12.0f\n" % ("MQTT messages per idle hour",
                               med(ms, "idle_msgs_per_hour")))
        sw = med(ms, "switch_msgs")
        w("%-44s %12s  (%s event(s), %s state(s))  %s (target <= 3)\n" % (
            "messages on the broker per switch", "%g" % sw,
            "%g" % med(ms, "switch_events"), "%g" % med(ms,
                                                         "switch_states"),
            verdict(sw <= 3)))
    w("\n== fleets (issue 17): %d phones started together, REGISTERs at "
      "server 1 (the PBX; capture); module: cisco mode, one REGISTER "
      "each; stock: the 3 servers as accounts (no start delay) ==\n"
      % args.surge_phones)
    w("%-26s %14s %18s %22s %14s\n" % (
        "srvfailover_start_delay", "peak REG/s", "peak first REG/s",
        "first REGISTERs spread", "last after start"))
    zero = med(out["surge"].get("module 0", []), "peak")
    for what, d in delays:
        rs = out["surge"]["%s %d" % (what, d)]
        if not [r for r in rs if r.get("ok")]:
            w("%-26s FAILED\n" % ("%d%s" % (d, " (stock)" if what ==
                                           "stock" else "")))
            continue
        peak, spread = med(rs, "peak"), med(rs, "spread")
        check = ""
        if what == "module" and d and zero:
            check = "%s (target: peak <= half of 0's, spread >= %.0f s)" % (
                verdict(peak <= zero / 2.0 and spread >= 0.5 * d), 0.5 * d)
        w("%-26s %14g %18g %20.2f s %12.2f s  %s\n" % (
            "%d%s" % (d, " (stock baresip)" if what == "stock" else ""),
            peak, med(rs, "first_peak"), spread, med(rs, "last"), check))
    sys.stdout.flush()
    return out


def fleet_view(module, keep):
    """The fleet view of a large site: its child, its line."""
    fl = spawn(["--child", "fleet", "--module", module], 300, keep)
    if fl.get("ok"):
        print("\nfleet view: %d phones' retained states read by "
              "srvfailover-ctl fleet: --json %.2f s, table %.2f s (median "
              "of 3)  %s <= 2 s" % (fl["phones"], fl["json"], fl["table"],
                                   "ok" if max(fl["json"], fl["table"]) <= 2
                                   else "MISS"), flush=True)
    else:
        print("bench: fleet run FAILED: %s" % fl.get("reason", "?"),
              flush=True)


def main():
    ap = argparse.ArgumentParser(prog="test/bench/bench.py",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", help="built srvfailover.so")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="one mode (cisco), one run, a short cost window")
    ap.add_argument("--kinds", default=",".join(KIND_ORDER))
    ap.add_argument("--mwi", action="store_true",
                    help="voicemail and presence on: mwi.so, presence.so"
                    " and a p2p contact at the main server in every phone,"
                    " pubint on its servers; kamailio's presence modules on"
                    " every server (messages to the dead server count"
                    " SUBSCRIBEs and PUBLISHes too)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--cost-window", type=int, default=60)
    ap.add_argument("--no-cost", action="store_true")
    ap.add_argument("--timeline", default="hang.cisco",
                    help="KIND.MODE of the timeline picture "
                    "(default hang.cisco)")
    ap.add_argument("--out", default=os.path.join(B.TOP, "build", "bench"))
    ap.add_argument("--keep", action="store_true",
                    help="keep every run's lab dir (pcap, logs)")
    ap.add_argument("--fleet", action="store_true",
                    help="issue 17's figures only: a phone's cost of MQTT,"
                    " the REGISTER surge, the fleet view")
    ap.add_argument("--fleet-window", type=int, default=60,
                    help="idle window of the MQTT cost run (s, default 60)")
    ap.add_argument("--surge-phones", type=int, default=20,
                    help="phones started together (default 20)")
    ap.add_argument("--surge-delays", default="0,10",
                    help="srvfailover_start_delay values (default 0,10)")
    # child
    ap.add_argument("--child", choices=["run", "cost", "timeline", "fleet",
                                        "mqtt", "surge"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--phones", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--delay", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stock", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--window", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--down", type=float, default=12,
                    help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child == "run":
        return child_run(args)
    if args.child == "cost":
        return child_cost(args)
    if args.child == "timeline":
        return child_timeline(args)
    if args.child == "fleet":
        return child_fleet(args)
    if args.child == "mqtt":
        return child_mqtt(args)
    if args.child == "surge":
        return child_surge(args)

    if os.geteuid() != 0:
        print("bench: needs root (unshare -n)", file=sys.stderr)
        return 2
    module = os.path.abspath(args.module or os.path.join(
        B.TOP, "srvfailover.so"))
    if not os.path.isfile(module):
        print("bench: no module at %s (run make)" % module, file=sys.stderr)
        return 2
    modes = args.modes.split(",")
    kinds = [k for k in args.kinds.split(",") if k]
    runs, window = args.runs, args.cost_window
    if args.quick:
        modes, runs, window = ["cisco"], 1, min(window, 20)
    args.runs = runs
    args.surge_delays = [int(d) for d in args.surge_delays.split(",") if d]
    for k in kinds:
        if k not in B.KINDS:
            print("bench: unknown kind %s (%s)" % (k, ",".join(B.KINDS)),
                  file=sys.stderr)
            return 2
    os.makedirs(args.out, exist_ok=True)
    # one build for the whole bench: the module may be rebuilt meanwhile
    copy = os.path.join(args.out, "srvfailover.so")
    shutil.copy2(module, copy + ".tmp")
    os.rename(copy + ".tmp", copy)
    module = copy
    with open(module, "rb") as f:
        build = hashlib.sha256(f.read()).hexdigest()[:12]
    L.become_subreaper()
    if args.fleet:   # issue 17's figures only
        print("bench: fleets only: %d run(s); load: %s" % (
            runs, os.getloadavg()[0]), flush=True)
        print("bench: module %s (sha256 %s...)" % (module, build),
              flush=True)
        started = time.monotonic()
        fleet = fleet_figures(args, module)
        fleet_view(module, args.keep)
        with open(os.path.join(args.out, "fleet.json"), "w") as f:
            json.dump(fleet, f)
        print("\nbench: %s; %.1f min; load now %.2f" % (
            os.path.join(args.out, "fleet.json"),
            (time.monotonic() - started) / 60, os.getloadavg()[0]),
            flush=True)
        return 0
    print("bench: %d run(s) x %d failure kinds x modes %s + stock; "
          "load: %s" % (runs, len(kinds), ",".join(modes),
                        os.getloadavg()[0]), flush=True)
    print("bench: module %s (sha256 %s...)" % (module, build), flush=True)
    if args.mwi:
        print("bench: voicemail and presence on: mwi.so, presence.so, a"
              " p2p contact and pubint=%d in every phone, presence modules"
              " on every server" % PUBINT, flush=True)
    print("bench: config: regint=%d, sfo_retries=%d (budget %.1f s), "
          "sfo_probe_interval=%d, sfo_fallback_interval=5, "
          "sfo_failback=immediate, sfo_retry_base=2, sfo_retry_max=8"
          % (REGINT, RETRIES, BUDGET, PROBE_INTERVAL), flush=True)
    results = []
    started = time.monotonic()
    for i in range(runs):
        for kind in kinds:
            res = spawn(["--child", "run", "--kind", kind, "--modes",
                         ",".join(modes), "--module", module] +
                        (["--mwi"] if args.mwi else []), 260, args.keep)
            res["kind"], res["run"] = kind, i + 1
            results.append(res)
            line = "bench: run %d/%d %-5s %5.0fs" % (i + 1, runs, kind,
                                                     res["took"])
            if res.get("ok"):
                f = res["figures"]
                line += "  " + "  ".join(
                    "%s: det %s sw %s dial %s back %s" % (
                        m[:3], fmt(f[m].get("detect")),
                        fmt(f[m].get("switch")), fmt(f[m].get("dial")),
                        fmt(f[m].get("failback")))
                    for m in modes + ["stock"])
            else:
                line += "  FAILED: %s (lab kept in %s)" % (
                    res.get("reason", "?").strip().splitlines()[0],
                    res.get("dir"))
            for note in res.get("notes", []):
                line += "\n    note: " + note.splitlines()[0]
            if res.get("dropped"):
                line += "\n    note: tcpdump dropped %d packets" % \
                    res["dropped"]
            print(line, flush=True)
    costs = []
    for i in range(0 if args.no_cost else runs):
        cost = spawn(["--child", "cost", "--window", str(window),
                      "--module", module], window + 150, args.keep)
        costs.append(cost)
        print("bench: cost run %d/%d %.0fs%s" % (
            i + 1, runs, cost["took"], "" if cost.get("ok") else
            "  FAILED: %s (lab kept in %s)" % (
                cost.get("reason", "?").strip().splitlines()[0],
                cost.get("dir"))), flush=True)

    rows = aggregate(results, modes, kinds) + cost_rows(costs)
    print_table(rows, modes, kinds, window, sys.stdout)
    write_csv(rows, os.path.join(args.out, "results.csv"))
    write_summary(rows, modes, kinds, os.path.join(args.out, "summary.md"),
                  "<!-- make bench: baresip %s, %d run(s), module sha256 "
                  "%s..., %s -->" % (L.baresip_version(), runs, build,
                                     time.strftime("%Y-%m-%d %H:%M")))
    with open(os.path.join(args.out, "runs.json"), "w") as f:
        json.dump({"module_sha256": build, "results": results,
                   "cost": costs}, f)
    # fleets: a phone's cost of MQTT, the REGISTER surge, the fleet view
    fleet = fleet_figures(args, module)
    with open(os.path.join(args.out, "fleet.json"), "w") as f:
        json.dump(fleet, f)
    fleet_view(module, args.keep)
    # the picture: one failover and fail-back of one phone
    tk, _, tm = args.timeline.partition(".")
    png = None
    tl = spawn(["--child", "timeline", "--kind", tk, "--mode", tm,
                "--down", "12", "--module", module], 150, args.keep)
    if tl.get("ok"):
        png = timeline(tl, os.path.join(args.out, "timeline.png"),
                       os.path.join(args.out, "timeline"))
        with open(os.path.join(args.out, "timeline", "srvfailover.log"),
                  "w") as f:
            f.write("\n".join(tl.get("log", [])) + "\n")
    else:
        print("bench: timeline run FAILED: %s (lab kept in %s)" % (
            tl.get("reason", "?").strip().splitlines()[0], tl.get("dir")))
    print("\nbench: %s, %s, %s%s; %.1f min; load now %.2f" % (
        os.path.join(args.out, "results.csv"),
        os.path.join(args.out, "summary.md"),
        os.path.join(args.out, "runs.json"),
        ", " + png if png else "", (time.monotonic() - started) / 60,
        os.getloadavg()[0]), flush=True)
    failed = [r for r in results if not r.get("ok")]
    if failed:
        print("bench: %d run(s) failed; their figures are left out" %
              len(failed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
