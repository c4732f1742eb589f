"""Pieces of the fault matrix (make soak, make valgrind-e2e and
test/e2e/test_faults.py), on top of the e2e lab (test/e2e/lab.py,
common.py), which is only imported, never changed.

  Garbage          test/soak/garbage_server.py as a lab process
  ValgrindBaresip  /usr/bin/baresip under valgrind, read back as XML
  transactions()   REGISTER transactions on the wire, per server
  flap()           a kamailio killed and started again on a schedule
"""

import os
import shutil
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(HERE, "..", "e2e")
if E2E not in sys.path:
    sys.path.insert(0, E2E)

import lab as L  # noqa: E402
import common  # noqa: E402

GARBAGE_SERVER = os.path.join(HERE, "garbage_server.py")
KINDS = ["random", "truncated", "huge", "badstatus", "retryafter",
         "badlength", "stray1xx", "badreason"]  # garbage_server.py's
SUPPRESSIONS = os.path.join(HERE, "baresip.supp")


# --------------------------------------------------------------------------
# a server answering garbage


class Garbage(L.Proc):
    """garbage_server.py on ip:port (UDP and TCP); its log lists every
    answer it gave: "t kind proto peer method bytes"."""

    def __init__(self, lab, ip, port=5060, kinds=None, seed=5, good=None):
        self.ip, self.port = ip, port
        self.answers = lab.path("garbage-%s-%d.log" % (ip, port))
        argv = [sys.executable, GARBAGE_SERVER, ip, str(port),
                "--log", self.answers, "--seed", str(seed)]
        if kinds:
            argv += ["--kinds", ",".join(kinds)]
        if good:
            argv += ["--good", ",".join(good)]
        super().__init__(lab, "garbage %s:%d" % (ip, port), argv,
                         lab.path("garbage-%s-%d.out" % (ip, port)))

    def start(self, timeout=10):
        super().start()
        L.wait_for(lambda: (not self.running()) or (
            L.bound(self.ip, self.port, "udp") and
            L.bound(self.ip, self.port, "tcp")),
            timeout, "%s to listen" % self.name, interval=0.02)
        if not self.running():
            raise L.LabError("%s did not start:\n%s"
                             % (self.name, self.log_tail(15)))
        return self

    def given(self):
        """[(kind, proto, method)] of the answers given so far."""
        try:
            with open(self.answers) as f:
                rows = [l.split() for l in f]
        except OSError:
            return []
        return [(r[1], r[2], r[4]) for r in rows if len(r) >= 6]


# --------------------------------------------------------------------------
# baresip under valgrind


class ValgrindBaresip(L.Baresip):
    """/usr/bin/baresip under valgrind (memcheck), otherwise the lab's
    Baresip: same config dir, ctrl_tcp client, log.

    The module is copied into the lab first, so that a rebuild of
    srvfailover.so during the run does not change what valgrind reads.
    Valgrind writes XML (self.xml) for the verdict and its text summary
    goes to baresip's log.
    """

    def __init__(self, lab, module, suppressions=SUPPRESSIONS, **kw):
        copy = lab.path("srvfailover.so")
        shutil.copyfile(module, copy)
        super().__init__(lab, copy, **kw)
        self.xml = lab.path("valgrind.xml")
        self.argv = [
            "stdbuf", "-oL", "-eL",
            "valgrind", "--tool=memcheck", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--error-exitcode=3",
            "--show-leak-kinds=definite", "--num-callers=40",
            "--suppressions=" + suppressions,
            "--xml=yes", "--xml-file=" + self.xml,
            "/usr/bin/baresip", "-f", self.confdir]

    def quit(self, timeout=180):
        """`quit` over ctrl_tcp; wait (bounded) until baresip and
        valgrind are done. Returns the exit status."""
        try:
            self.ctrl.request("quit", timeout=10)
        except L.LabError:
            pass  # it may close the connection before it answers
        try:
            return self.popen.wait(timeout)
        except Exception:
            raise L.LabError("baresip under valgrind did not end within "
                             "%ds of quit" % timeout)


def valgrind_errors(xmlfile):
    """Errors in valgrind's XML: [{"kind", "what", "frames": [(fn, obj,
    file:line)]}], and the suppressions used: [(name, count)]."""
    try:
        root = ET.parse(xmlfile).getroot()
    except (OSError, ET.ParseError) as e:
        raise L.LabError("valgrind XML %s unreadable: %s" % (xmlfile, e))
    out = []
    for err in root.iter("error"):
        what = err.findtext("what") or err.findtext("xwhat/text") or ""
        frames = []
        for st in err.findall("stack"):
            for fr in st.findall("frame"):
                where = ""
                if fr.findtext("file"):
                    where = "%s:%s" % (fr.findtext("file"),
                                       fr.findtext("line") or "?")
                frames.append((fr.findtext("fn") or "???",
                               fr.findtext("obj") or "", where))
        out.append({"kind": err.findtext("kind") or "?", "what": what,
                    "frames": frames})
    used = [(p.findtext("name"), int(p.findtext("count") or 0))
            for p in root.iter("pair") if p.findtext("name")]
    return out, used


def ours(error):
    """Does the error's stack pass through the module?"""
    return any(os.path.basename(obj).startswith("srvfailover") or
               "srvfailover" in where for _fn, obj, where in error["frames"])


def describe_error(error, frames=25):
    rows = ["  %s: %s" % (error["kind"], error["what"])]
    for fn, obj, where in error["frames"][:frames]:
        rows.append("      %s (%s)" % (fn, where or os.path.basename(obj)))
    return "\n".join(rows)


# --------------------------------------------------------------------------
# REGISTER transactions on the wire


def transactions(msgs, dst, src=L.PHONE, method="REGISTER"):
    """Transactions of method (REGISTER) baresip sent to dst,
    retransmissions collapsed, in time order: [{"t", "unreg", "final"
    (code or None), "t_final"}]."""
    out, seen = [], {}
    for m in L.requests(msgs, method, src=src, dst=dst):
        key = (m.call_id, m.cseq)
        if key in seen:
            continue
        r = L.final_response(msgs, m)
        tr = {"t": m.t, "unreg": m.is_unregister,
              "final": r.status if r else None,
              "t_final": r.t if r else None}
        seen[key] = tr
        out.append(tr)
    return out


def per_minute(trs, t0, t1):
    """Counts of transactions started in each whole minute of [t0, t1)."""
    n = max(1, int((t1 - t0) // 60))
    counts = [0] * n
    for tr in trs:
        i = int((tr["t"] - t0) // 60)
        if 0 <= i < n:
            counts[i] += 1
    return counts


def backoff_min(k, base, rmax):
    """Shortest wait after k consecutive registration failures: half of
    min(rmax, base * 2^(k-1)) (the module waits 50..100 % of it)."""
    w = base
    while k > 1 and w < rmax:
        w *= 2
        k -= 1
    return min(w, rmax) / 2.0


def backoff_violations(trs, base, rmax, floor=None, slack=0.2):
    """REGISTERs (not un-) sent sooner after a failed one than the
    back-off allows. floor: a lower cap of the required gap (sequential
    mode probes higher servers at its fallback interval, which may be
    shorter). Returns printable lines."""
    bad, k, prev = [], 0, None
    for tr in [x for x in trs if not x["unreg"]]:
        if prev is not None and k > 0:
            need = backoff_min(k, base, rmax)
            if floor is not None:
                need = min(need, floor)
            gap = tr["t"] - prev["t"]
            if gap + slack < need:
                bad.append("  REGISTER at %.3f only %.2fs after failed one "
                           "at %.3f (failure %d in a row: >= %.2fs)"
                           % (tr["t"], gap, prev["t"], k, need))
        ok = tr["final"] is not None and 200 <= tr["final"] < 300
        k = 0 if ok else k + 1
        prev = tr
    return bad


# --------------------------------------------------------------------------
# a flapping server


def flap(kam, seconds, period=2.0, on_cycle=None):
    """kill -9 the kamailio, start it again, each `period` s, for
    `seconds`; ends with it running. Returns the number of kills."""
    t_end = time.monotonic() + seconds
    kills = 0
    while time.monotonic() < t_end:
        t = time.monotonic()
        if kam.running():
            kam.kill()
            kills += 1
        else:
            kam.start()
        if on_cycle:
            on_cycle()
        left = period - (time.monotonic() - t)
        if left > 0:
            time.sleep(min(left, max(0.0, t_end - time.monotonic())))
    if not kam.running():
        kam.start()
    return kills


def counters(status, user=common.USER):
    line = L.line_of(status, user) or {}
    return line.get("failovers", 0), line.get("failbacks", 0)


def note(text):
    """A line of the scenario's report: printed (runner.log of the lab)
    and, under test/soak/run, shown after PASS/FAIL ($SFO_SOAK_REPORT)."""
    print(text, flush=True)
    path = os.environ.get("SFO_SOAK_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


# --------------------------------------------------------------------------
# the scenarios (make soak runs them long, test/e2e/test_faults.py short)

GARBAGE_1, GARBAGE_2 = "127.0.0.2", "127.0.0.5"  # udp, tcp
GOOD_1, GOOD_2 = "127.0.0.3", "127.0.0.4"


def garbage_config(mode, line_params=None):
    """Servers 1 (udp) and 2 (tcp) answer garbage; 3 and 4 are
    kamailios."""
    params = line_params or ("sfo_probe_interval=2;sfo_failback=immediate;"
                             "sfo_retry_base=2;sfo_retry_max=8;"
                             "sfo_fallback_interval=5")
    return "".join([
        "<sip:100@%s;transport=udp>;regint=60;sfo_mode=%s;%s\n"
        % (GARBAGE_1, mode, params),
        "<sip:100@%s;transport=tcp>;regint=60\n" % GARBAGE_2,
        "<sip:100@%s;transport=udp>;regint=60\n" % GOOD_1,
        "<sip:100@%s;transport=udp>;regint=60\n" % GOOD_2])


def _hangup_all(b, since, timeout=10):
    """Hang up until no call is left (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = b.command("listcalls", timeout=10)
        if "sip:" not in (calls or ""):
            return
        b.command("hangup", timeout=10)
        time.sleep(0.5)


def garbage_run(lab, mode, seconds, settle=30, every=10):
    """Two servers answering garbage (random bytes, truncated, 64 KiB
    header, bad status line, 503 with a bad Retry-After, lying
    Content-Length), two good ones. For `seconds`: baresip keeps
    answering `srvfailover json`, no garbage server is ever registered,
    the line works through server 3 (a bare dial is established there)
    and dials by name to the garbage servers end without harm."""
    common.need_module(lab)
    lab.capture()
    g1 = Garbage(lab, GARBAGE_1, seed=1).start()
    # (a garbage Retry-After may keep a server out of use for up to an
    # hour: the second one answers every other kind, for more exposure)
    g2 = Garbage(lab, GARBAGE_2, seed=2, kinds=[
        k for k in KINDS if k != "retryafter"]).start()
    for ip in (GOOD_1, GOOD_2):
        lab.kamailio(ip)
    lab.uas()
    t_start = time.time()
    b = lab.baresip(lab.module, srvfailover=garbage_config(mode))
    want = "Registered*" if mode == "parallel" else "Registered"
    common.wait_status(b, "server 3 working while 1 and 2 answer garbage",
                       lambda line: line.get("working") == 3 and
                       common.server_state(line, 3) == want, settle)
    note("%s: working server 3 %.1fs after baresip started" % (
        mode, time.time() - t_start))
    t0 = time.time()
    samples = bad = 0
    seen = {1: set(), 2: set()}
    working_seen = set()
    calls_ok = named = 0
    next_call = time.monotonic()
    while time.time() - t0 < seconds:
        assert b.running(), "baresip died:\n" + b.log_tail(30)
        st = b.status()  # raises if no answer or no JSON
        line = L.line_of(st, common.USER)
        assert line, "no line 100 in %s" % st
        samples += 1
        working_seen.add(line.get("working"))
        for p in (1, 2):
            seen[p].add(common.server_state(line, p))
        if line.get("working") != 3:
            bad += 1
        for p in (1, 2):
            assert not (common.server_state(line, p) or "").startswith(
                "Registered"), "garbage server %d registered: %s" % (
                p, common.describe(st))
        if time.monotonic() >= next_call:
            next_call = time.monotonic() + every
            # through the working server: must work
            t = time.time()
            b.command("dial 200", timeout=10)
            b.ctrl.wait_event("CALL_ESTABLISHED", 15, since=t)
            inv = [m for m in L.requests(lab.wire(), "INVITE", src=L.PHONE)
                   if m.t >= t]
            assert inv and inv[0].dst == GOOD_1, \
                "bare dial not through %s:\n%s" % (GOOD_1, L.summary(inv))
            _hangup_all(b, t)
            calls_ok += 1
            # by name through a garbage server: whatever comes back
            t = time.time()
            target = GARBAGE_1 if named % 2 == 0 else \
                GARBAGE_2 + ";transport=tcp"
            b.command("dial 200@%s" % target, timeout=10)
            time.sleep(4)
            _hangup_all(b, t)
            named += 1
        time.sleep(1)
    assert b.running(), "baresip died:\n" + b.log_tail(30)
    st = b.status()
    given = g1.given() + g2.given()
    kinds = sorted(set(k for k, _, _ in given))
    methods = sorted(set("%s/%s" % (m, p) for _, p, m in given))
    note("%s: %d status samples over %ds, working %s, not 3 in %d; "
         "server 1 states %s, server 2 states %s" % (
             mode, samples, seconds, sorted(working_seen, key=str), bad,
             sorted(seen[1], key=str), sorted(seen[2], key=str)))
    note("%s: %d garbage answers (%s) to %s; %d calls through server 3, "
         "%d dials to garbage servers" % (mode, len(given),
                                          ",".join(kinds),
                                          ",".join(methods), calls_ok,
                                          named))
    assert L.working(st, common.USER) == 3, common.describe(st)
    assert bad <= 2, "working server not 3 in %d of %d samples" % (
        bad, samples)
    return given


def all_down_run(lab, mode, down, retry_max=8, probe=2):
    """Every server killed for `down` s, then started again: the line
    must find a working server by itself within the back-off maximum
    (plus a check and a REGISTER). Returns the recovery time."""
    params = ("sfo_probe_interval=%d;sfo_failback=immediate;"
              "sfo_retry_base=2;sfo_retry_max=%d;sfo_fallback_interval=5"
              % (probe, retry_max))
    b, kams = common.start(lab, mode, srvfailover=common.config(
        mode, line_params=params))
    common.wait_steady(b, mode)
    t_kill = time.time()
    for k in kams.values():
        k.kill()
    common.wait_status(b, "no working server", lambda line:
                       line.get("working") is None, 40)
    note("%s: no working server %.1fs after all were killed" % (
        mode, time.time() - t_kill))
    # stays down; the module keeps trying on its back-off
    t_end = t_kill + down
    while time.time() < t_end:
        assert b.running(), "baresip died"
        st = b.status()
        assert L.working(st, common.USER) is None, common.describe(st)
        time.sleep(min(2, max(0, t_end - time.time())))
    st = b.status()
    note("%s: after %ds down: %s" % (mode, down, common.describe(st)))
    # the wire: REGISTERs while all were down, against the back-off
    msgs = lab.wire()
    rate, viol, checks = {}, [], {}
    for ip in common.SERVERS:
        trs = [tr for tr in transactions(msgs, ip)
               if t_kill <= tr["t"] <= t_end and not tr["unreg"]]
        rate[ip] = len(trs)
        viol += backoff_violations(trs, 2, retry_max)
        checks[ip] = len([tr for tr in transactions(msgs, ip,
                                                    method="OPTIONS")
                          if t_kill <= tr["t"] <= t_end])
    # after the ramp 1, 2, 4, ... s: at most one per retry_max / 2
    limit = int(down / (retry_max / 2.0)) + 4
    note("%s: REGISTER transactions per server while all down %ds: %s "
         "(bound %d: one per sfo_retry_max/2 after the ramp)" % (
             mode, down, rate, limit))
    # a check at most every probe interval (sequential: fallback, 5 s)
    check_limit = int(down / probe) + 2
    note("%s: OPTIONS checks per server while all down: %s (bound %d)" % (
        mode, checks, check_limit))
    assert not viol, "back-off not kept while all down:\n" + "\n".join(
        viol[:10])
    assert max(rate.values()) <= limit, "REGISTER storm while all down"
    assert max(checks.values()) <= check_limit, "OPTIONS storm while " \
        "all down: %s" % checks
    t_up = time.time()
    for k in kams.values():
        k.start()
    bound = retry_max + probe + 3.5 + 1.5
    line = common.wait_status(b, "a working server after the restart",
                              lambda line: line.get("working") is not None,
                              bound + 10)
    took = time.time() - t_up
    note("%s: working server %s %.1fs after all came back (bound: "
         "sfo_retry_max %ds + probe %ds + budget 3.5s + 1.5s = %.1fs)" % (
             mode, line.get("working"), took, retry_max, probe, bound))
    assert took <= bound, "recovered after %.1fs, bound %.1fs" % (
        took, bound)
    common.wait_status(b, "back on server 1",
                       common.registered_on(mode, 1), 30)
    return took, rate


def flap_run(lab, mode, seconds=120, period=2.0, base=4, rmax=16):
    """The main server killed and started again every `period` s for
    `seconds`. Checked on the wire and in JSON:

    - back-off: a REGISTER to server 1 after k failed ones in a row is
      at least 0.5 * min(rmax, base * 2^(k-1)) s after the last one
      (sequential mode: or its fallback interval, 5 s, if shorter);
    - rate: REGISTER transactions (retransmissions apart, un-REGISTERs
      counted apart) to server 1 per minute <= 60 / (base / 2) + 2,
      to each other server <= 2 * kills per minute + 2;
    - switches: failovers <= kills + 1 and failbacks <= kills + 1 (one
      of each per down/up of the server at most), and failbacks <=
      REGISTERs to server 1 answered 200.
    """
    fallback = 5
    params = ("sfo_probe_interval=2;sfo_failback=immediate;"
              "sfo_retry_base=%d;sfo_retry_max=%d;sfo_fallback_interval=%d"
              % (base, rmax, fallback))
    b, kams = common.start(lab, mode, srvfailover=common.config(
        mode, line_params=params))
    common.wait_steady(b, mode)
    st0 = b.status()
    fo0, fb0 = counters(st0)
    S1 = common.SERVERS[0]
    polls = [0]

    def check():
        assert b.running(), "baresip died:\n" + b.log_tail(30)
        b.status()
        polls[0] += 1

    t0 = time.time()
    kills = flap(kams[S1], seconds, period, on_cycle=check)
    t1 = time.time()
    line = common.wait_status(b, "back on server 1 after the flapping",
                              common.registered_on(mode, 1),
                              rmax + 2 * fallback + 10)
    t_back = time.time() - t1
    fo, fb = counters({"lines": [line]})
    fo, fb = fo - fo0, fb - fb0
    msgs = lab.wire()
    report = []
    fails = []
    per_min_1 = 60.0 / (base / 2.0) + 2
    per_min_o = 2.0 * kills * 60.0 / seconds + 2
    for i, ip in enumerate(common.SERVERS):
        trs = [tr for tr in transactions(msgs, ip) if t0 <= tr["t"] < t1]
        regs = [tr for tr in trs if not tr["unreg"]]
        unregs = [tr for tr in trs if tr["unreg"]]
        ok = [tr for tr in regs if tr["final"] and 200 <= tr["final"] < 300]
        pm = per_minute(regs, t0, t1)
        pmu = per_minute(unregs, t0, t1)
        limit = per_min_1 if i == 0 else per_min_o
        report.append("%s server %d %s: REGISTER/min %s (%d answered 2xx), "
                      "un-REGISTER/min %s; bound %.0f/min" % (
                          mode, i + 1, ip, pm, len(ok), pmu, limit))
        for n in pm + pmu:
            if n > limit:
                fails.append("server %d: %d REGISTER transactions in a "
                             "minute > %.0f" % (i + 1, n, limit))
        if i == 0:
            viol = backoff_violations(
                regs, base, rmax,
                floor=fallback if mode == "sequential" else None)
            if viol:
                fails.append("back-off not kept to server 1:\n" +
                             "\n".join(viol[:10]))
            ok1 = len(ok)
    report.append("%s: %d kills in %.0fs, %d status polls; failovers %d, "
                  "failbacks %d (bound %d each, failbacks <= %d 2xx "
                  "REGISTERs to server 1); back on 1 %.1fs after" % (
                      mode, kills, t1 - t0, polls[0], fo, fb, kills + 1,
                      ok1, t_back))
    for r in report:
        note(r)
    if fo > kills + 1 or fb > kills + 1:
        fails.append("%d failovers, %d failbacks for %d kills" % (
            fo, fb, kills))
    if fb > ok1:
        fails.append("%d failbacks but only %d REGISTERs to server 1 "
                     "answered 2xx" % (fb, ok1))
    assert not fails, "\n".join(fails)
    return fo, fb


def http(method, path, addr=("127.0.0.1", 8088), timeout=20, body=False):
    """One request to the module's web page: the status code (and the
    body's bytes if body), or the error's text (no page, or the
    connection closed)."""
    import http.client
    c = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        data = r.read()
        return (r.status, data) if body else r.status
    except (OSError, http.client.HTTPException) as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        c.close()


def strict_json(data):
    """None if data is UTF-8 JSON (RFC 8259), else what is wrong."""
    import json
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return "not UTF-8: %s: %r" % (e, data[max(0, e.start - 40):
                                               e.end + 10])
    try:
        json.loads(text)
    except ValueError as e:
        return "not JSON: %s" % e
    return None


def invite_garbage_run(lab, kind, budget=3.5, slack=2.0):
    """Server 1 registers and answers OPTIONS properly but answers an
    INVITE only with `kind` (random: nothing usable; stray1xx: a 183
    with the right Call-ID and a wrong Via branch, which libre drops as
    not its transaction). A bare dial must be placed again through
    server 2 within the INVITE budget (sfo_retries=3: 3.5 s), as with
    no answer at all (SPEC: no provisional response within the budget).
    Returns the seconds from dial to the INVITE to server 2."""
    common.need_module(lab)
    s1, s2, s3 = common.SERVERS
    lab.capture()
    g = Garbage(lab, s1, kinds=[kind], good=["REGISTER", "OPTIONS"])
    g.start()
    for ip in (s2, s3):
        lab.kamailio(ip)
    lab.uas()
    b = lab.baresip(lab.module, srvfailover=common.config("cisco"))
    common.wait_steady(b, "cisco")
    t = time.time()
    b.command("dial 200")
    try:
        inv2 = lab.wire_until(
            lambda m: [x for x in L.requests(m, "INVITE", src=L.PHONE,
                                             dst=s2) if x.t >= t],
            budget + slack + 30, "an INVITE to %s" % s2)[0]
        took = inv2.t - t
    except L.LabError:
        took = None
    closed = b.ctrl.events_of("CALL_CLOSED", since=t)
    msgs = [m for m in lab.wire() if m.t >= t and m.cseq_method in
            ("INVITE", "ACK", "CANCEL")]
    note("INVITE to server 1 answered with %s: %s; first CALL_CLOSED: %s"
         % (kind, "placed again through server 2 after %.2fs" % took
            if took is not None else "never placed again through server 2"
            " within %.0fs" % (budget + slack + 30),
            closed[0].get("param") if closed else None))
    _hangup_all(b, t)
    assert took is not None and took <= budget + slack, (
        "dial with server 1 answering INVITE with %s: %s (budget %.1fs)"
        "\n%s" % (kind, "INVITE to server 2 after %.2fs" % took
                   if took is not None else "no INVITE to server 2",
                   budget, L.summary(msgs)))
    return took


def reason_run(lab, answers=12):
    """Server 1 answers OPTIONS 200 (so cisco tries it) and REGISTER
    with a 500 whose reason phrase has quotes, a backslash, control
    bytes and bad UTF-8, or a 503 with 40 two-byte characters (valid
    UTF-8, longer than the 63 bytes the status keeps). `srvfailover
    json` and the web page's status.json must stay JSON, and UTF-8
    (RFC 8259), whichever reason came last."""
    common.need_module(lab)
    s1, s2, s3 = common.SERVERS
    lab.capture()
    g = Garbage(lab, s1, kinds=["badreason"], good=["OPTIONS"], seed=3)
    g.start()
    for ip in (s2, s3):
        lab.kamailio(ip)
    b = lab.baresip(lab.module, srvfailover=common.config("cisco"))
    problems, texts = {}, set()
    deadline = time.time() + 60
    while time.time() < deadline and len(g.given()) < answers:
        st = b.status()  # raises if not JSON
        line = L.line_of(st, common.USER)
        text = line["servers"][0].get("last_text")
        texts.add(text)
        web = http("GET", "/status.json", body=True)
        bad = strict_json(web[1]) if isinstance(web, tuple) else str(web)
        if bad:
            problems.setdefault((text or "")[:12], "last_text %r: "
                                "status.json %s" % (text, bad))
        time.sleep(0.3)
    assert b.running(), "baresip died"
    note("bad reason phrases: %d answers; server 1 last_text seen: %s" % (
        len(g.given()), sorted(texts, key=str)))
    for p in sorted(problems.values()):
        note("  " + p)
    assert not problems, "\n".join(sorted(problems.values()))
