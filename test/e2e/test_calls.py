"""Outgoing calls (README "Outgoing calls"): which server a bare or a
full-URI dial uses, INVITE failover (503, no 100 Trying within the
budget, TCP refused), one failure line when every server failed, no
failover on the callee's answer, hangup of a failed-over call, and
switches that must wait for a call to end."""

import re
import time

import lab as L
from common import (SERVERS, STEADY, USER, assert_no_register, config,
                    describe, registered_on, start, states_are, wait_status,
                    wait_steady)

S1, S2, S3 = SERVERS


def dial(lab, b, target, timeout=10):
    """Dial; return (established event, first INVITE baresip sent)."""
    t = time.time()
    b.command("dial " + target)
    est = b.ctrl.wait_event("CALL_ESTABLISHED", timeout, since=t)
    inv = [m for m in L.requests(lab.wire(), "INVITE", src=L.PHONE)
           if m.t >= t]
    return est, inv


def hangup(b):
    t = time.time()
    b.command("hangup")
    b.ctrl.wait_event("CALL_CLOSED", 5, since=t)


def test_parallel_bare_dial_uses_registered_star(lab):
    b, kams = start(lab, "parallel")
    wait_steady(b, "parallel")
    est, inv = dial(lab, b, "200")
    assert inv and inv[0].dst == S1, \
        "bare dial went to %s, not %s (Registered*):\n%s" % (
            inv and inv[0].dst, S1, L.summary(inv))
    hangup(b)

    # server 1 off: server 2 becomes Registered* and takes bare dials
    b.command("srvfailover disable %s 1" % USER)
    wait_status(b, "server 2 Registered*", registered_on("parallel", 2), 5)
    est, inv = dial(lab, b, "200")
    assert inv and inv[0].dst == S2, \
        "bare dial went to %s, not %s (Registered*):\n%s" % (
            inv and inv[0].dst, S2, L.summary(inv))
    hangup(b)


def test_full_uri_dial_bypasses_priorities(lab):
    b, kams = start(lab, "parallel")
    wait_steady(b, "parallel")
    est, inv = dial(lab, b, "200@%s" % S3)
    assert inv and inv[0].dst == S3, \
        "dial 200@%s went to %s:\n%s" % (S3, inv and inv[0].dst,
                                         L.summary(inv))
    assert USER + "@" + S3 in inv[0].header("from"), \
        "not through server 3's own account: From %s" % inv[0].header("from")
    hangup(b)
    st = b.status()
    assert L.working(st, USER) == 1, "working server moved: %s" % st


def test_parallel_invite_fails_over_when_server_dead(lab):
    b, kams = start(lab, "parallel")
    wait_steady(b, "parallel")
    kams[S1].kill()
    t = time.time()
    b.command("dial 200")  # at once: the module may not know yet
    est = b.ctrl.wait_event("CALL_ESTABLISHED", 15, since=t)
    inv = [m for m in L.requests(lab.wire(), "INVITE", src=L.PHONE)
           if m.t >= t]
    assert inv and inv[-1].dst == S2, \
        "the established call's INVITE went to %s:\n%s" % (
            inv and inv[-1].dst, L.summary(inv))
    closed = b.ctrl.events_of("CALL_CLOSED", since=t)
    print("established after %.1fs; closed on the way: %s" % (
        est["t"] - t, [c.get("param") for c in closed]))


def test_cisco_callee_busy_is_not_failed_over(lab):
    callee_busy(lab, "cisco")


def test_cisco_failback_waits_for_call_end(lab):
    b, kams = start(lab, "cisco")
    wait_steady(b, "cisco")
    kams[S1].kill()
    wait_status(b, "working 2 after kill -9 of " + S1,
                registered_on("cisco", 2), 25)
    est, inv = dial(lab, b, "200")
    assert inv and inv[0].dst == S2, "call not via server 2:\n%s" % \
        L.summary(inv)

    kams[S1].start()
    # server 1 is fine again, but a call is up on server 2
    wait_status(b, "server 1 Reachable again", states_are(
        {1: "Reachable", 2: "Registered"}), 15)
    time.sleep(5)  # longer than the probe interval + immediate fail-back
    st = b.status()
    assert L.working(st, USER) == 2, \
        "fail-back left server 2 during a call: %s" % st
    assert not b.ctrl.events_of("CALL_CLOSED", since=est["t"]), \
        "the call was closed"
    t = time.time()
    hangup(b)
    wait_status(b, "fail-back to 1 once the call ended",
                registered_on("cisco", 1), 15)
    print("fail-back %.1fs after the hang-up" % (time.time() - t))


# --------------------------------------------------------------------------
# helpers of the tests below

# a line whose OPTIONS checks never come during the test: what the call
# meets is what the INVITE meets, not what a probe found before it
QUIET = ("sfo_probe_interval=600;sfo_failback=immediate;"
         "sfo_retry_base=2;sfo_retry_max=8")


def invite_attempts(lab, since, servers=SERVERS):
    """The INVITEs baresip sent to the servers since then, one per
    attempt (retransmissions, and the INVITE sent again with credentials
    after a 401/407 to the same server in the same call, left out), in
    time order. TCP ones come from 127.0.0.1, so they are told from
    kamailio's by destination."""
    out, first = [], {}
    for m in L.requests(lab.wire(), "INVITE"):
        if m.t < since or m.dst not in servers or m.src in servers:
            continue
        key = (m.call_id, m.dst)
        if key not in first:
            first[key] = m
            out.append(m)
        first[key].last = m  # the one whose answer ends the attempt
    return out


def attempt_answer(msgs, m):
    """The final answer that ended an attempt of invite_attempts()."""
    return L.final_response(msgs, getattr(m, "last", m))


def server_of(line, prio):
    return next(s for s in line["servers"] if s.get("prio") == prio)


def failure_lines(b, target="200"):
    return b.lines("srvfailover: %s: call to %s failed:" % (USER, target))


def check_named_dial(lab, b, target, ip):
    """dial target: the INVITE goes to ip, From is ip's own account."""
    est, inv = dial(lab, b, target)
    assert inv and [m.dst for m in inv][:1] == [ip], \
        "dial %s went to %s, not %s:\n%s" % (
            target, inv and inv[0].dst, ip, L.summary(inv))
    frm = inv[0].header("from")
    assert "sip:%s@%s" % (USER, ip) in frm, \
        "dial %s: not through server %s's own account: From %s" % (
            target, ip, frm)
    assert est.get("accountaor") == "sip:%s@%s" % (USER, ip), est
    hangup(b)


def bare_and_full_uri_dial(lab, mode):
    b, kams = start(lab, mode)
    wait_steady(b, mode)
    check_named_dial(lab, b, "200", S1)  # bare: the working server
    check_named_dial(lab, b, "200@%s" % S3, S3)
    check_named_dial(lab, b, "sip:200@%s:5060" % S2, S2)
    # the named servers were only dialled through: nothing moved
    st = b.status()
    assert states_are(STEADY[mode])(L.line_of(st, USER)) and \
        L.working(st, USER) == 1, "after the named dials: " + describe(st)
    # and a bare dial goes through the working server again
    check_named_dial(lab, b, "200", S1)
    if mode == "sequential":
        # a Standby server gets the INVITE it was named for, never a
        # REGISTER
        assert_no_register(lab, [S2, S3], "sequential named dials")


# --------------------------------------------------------------------------
# which server a dial goes through


def test_cisco_bare_dial_and_full_uri_dial(lab):
    bare_and_full_uri_dial(lab, "cisco")


def test_sequential_bare_dial_and_full_uri_dial(lab):
    bare_and_full_uri_dial(lab, "sequential")


# --------------------------------------------------------------------------
# INVITE failover


def invite_503_fails_over(lab, mode):
    """Server 1 registers fine but answers INVITE with 503: the call is
    placed again through server 2 at once; hangup ends it there."""
    b, kams = start(lab, mode, defines={S1: ["INVITE_503"]})
    wait_steady(b, mode)
    t = time.time()
    b.command("dial 200")
    est = b.ctrl.wait_event("CALL_ESTABLISHED", 10, since=t)
    msgs = lab.wire()
    inv = invite_attempts(lab, t)
    assert [m.dst for m in inv] == [S1, S2], \
        "INVITE sequence %s, want %s then %s:\n%s" % (
            [m.dst for m in inv], S1, S2, L.summary(inv))
    r1 = attempt_answer(msgs, inv[0])
    assert r1 and r1.status == 503, "server 1's answer: %r" % r1
    r2 = attempt_answer(msgs, inv[1])
    assert r2 and r2.status == 200, "server 2's answer: %r" % r2
    assert inv[1].t - r1.t < 1.0, \
        "%.2fs from the 503 to the INVITE to %s" % (inv[1].t - r1.t, S2)
    assert "sip:%s@%s" % (USER, S2) in inv[1].header("from"), \
        "the second INVITE is not server 2's account: From %s" % \
        inv[1].header("from")
    assert est.get("accountaor") == "sip:%s@%s" % (USER, S2), est
    assert b.lines("placing the call to 200 again through server 2"), \
        "no 'placing the call ... again' line"

    # JSON: the call is on server 2; server 1's 503 was counted
    line = wait_status(b, "the call counted on server 2",
                       lambda l: server_of(l, 2).get("calls") == 1, 5)
    assert server_of(line, 1).get("calls") == 0, line
    assert server_of(line, 1).get("failures", 0) >= 1, \
        "server 1's 503 to INVITE not counted: %s" % server_of(line, 1)
    print("during the call: " + describe({"lines": [line]}))

    # the user's hangup ends the failed-over call, on server 2
    calls = b.command("listcalls")
    assert "ESTABLISHED" in calls, "listcalls after the failover: %r" % calls
    th = time.time()
    hangup(b)
    bye = lab.wire_until(lambda m: [x for x in L.requests(m, "BYE")
                                    if x.t >= th and x.src not in SERVERS],
                         5, "baresip's BYE")[0]
    assert bye.dst == S2 and bye.call_id == inv[1].call_id, \
        "BYE of the failed-over call went to %s (Call-ID %s):\n%s" % (
            bye.dst, bye.call_id, L.summary([bye]))
    lab.wire_until(lambda m: L.requests(m, "BYE", dst=L.CALLEE), 5,
                   "the BYE at the callee")
    wait_status(b, "no call counted after the hangup",
                lambda l: all(s.get("calls") == 0 for s in l["servers"]), 5)
    # server 1 is healthy for registration: the line is back on it
    wait_status(b, "working 1 again after the call",
                registered_on(mode, 1), 20)


def test_cisco_invite_503_fails_over_to_server_2(lab):
    invite_503_fails_over(lab, "cisco")


def test_sequential_invite_503_fails_over_to_server_2(lab):
    invite_503_fails_over(lab, "sequential")


def test_cisco_silent_server_invite_fails_over_within_budget(lab):
    """Server 1 hung (SIGSTOP) after the line registered: the INVITE gets
    no 100 Trying; after its budget (3 retransmissions, 3.5 s) the call
    rings through server 2, not after libre's 32 s."""
    b, kams = start(lab, srvfailover=config("cisco", line_params=QUIET))
    wait_steady(b, "cisco")
    kams[S1].stop()
    t = time.time()
    b.command("dial 200")
    ring = b.ctrl.wait_event("CALL_RINGING", 10, since=t)
    est = b.ctrl.wait_event("CALL_ESTABLISHED", 5, since=t)
    inv = invite_attempts(lab, t)
    assert [m.dst for m in inv] == [S1, S2], \
        "INVITE sequence %s:\n%s" % ([m.dst for m in inv], L.summary(inv))
    gap = inv[1].t - inv[0].t
    retrans = [m for m in L.requests(lab.wire(), "INVITE", dst=S1)
               if m.call_id == inv[0].call_id]
    print("INVITE to %s at +%.2fs after %d sends to %s; ringing at +%.2fs"
          % (S2, gap, len(retrans), S1, ring["t"] - t))
    assert 3.3 <= gap < 4.5, \
        "%.2fs from the INVITE to %s to the one to %s; budget 3.5 s" % (
            gap, S1, S2)
    assert ring["t"] - t < 5.5, "ringing only after %.1fs" % (ring["t"] - t)
    assert est.get("accountaor") == "sip:%s@%s" % (USER, S2), est
    assert not L.requests(lab.wire(), "INVITE", src=L.PHONE, dst=S1)[
        len(retrans):], "INVITE to %s again" % S1
    st = b.status()
    s1 = server_of(L.line_of(st, USER), 1)
    assert s1.get("failures", 0) >= 1 and \
        "no answer" in s1.get("last_text", ""), \
        "server 1 after the unanswered INVITE: %s" % s1
    hangup(b)


def test_cisco_tcp_refused_invite_fails_over_at_once(lab):
    """TCP servers, server 1 killed just before the dial: the INVITE's
    connection is refused and the call goes through server 2 at once."""
    text = config("cisco", line_params=QUIET).replace("transport=udp",
                                                      "transport=tcp")
    b, kams = start(lab, srvfailover=text)
    wait_steady(b, "cisco")
    L.wait_for(lambda: kams[S1].contacts(USER), 5, "contact at " + S1)
    kams[S1].kill()
    t = time.time()
    b.command("dial 200")
    est = b.ctrl.wait_event("CALL_ESTABLISHED", 10, since=t)
    inv = invite_attempts(lab, t)
    assert [m.dst for m in inv] == [S2] and inv[0].transport == "tcp", \
        "INVITEs: %s" % L.summary(inv)
    took = inv[0].t - t
    syn = [s for s in lab.tcp_wire() if s.t >= t and s.dst == S1 and
           s.dport == 5060 and s.has("S") and not s.has("A")]
    rst = [s for s in lab.tcp_wire() if s.t >= t and s.src == S1 and
           s.sport == 5060 and s.has("R")]
    print("INVITE to %s %.3fs after the dial; SYN/RST to %s: %d/%d" % (
        S2, took, S1, len(syn), len(rst)))
    assert syn and rst, "no refused connection to %s after the dial:\n%s" \
        % (S1, [s for s in lab.tcp_wire() if s.t >= t][:20])
    assert took < 1.0, "%.2fs from the dial to the INVITE to %s" % (took,
                                                                    S2)
    assert est.get("accountaor") == "sip:%s@%s" % (USER, S2), est
    st = b.status()
    s1 = server_of(L.line_of(st, USER), 1)
    assert s1.get("failures", 0) >= 1, "server 1: %s" % s1
    print("server 1: %s" % s1.get("last_text"))
    hangup(b)


def test_cisco_all_servers_503_call_fails_once(lab):
    """Every server answers INVITE with 503: one attempt per server, then
    exactly one line naming each server and its answer; no call."""
    b, kams = start(lab, "cisco", defines={ip: ["INVITE_503"]
                                           for ip in SERVERS})
    wait_steady(b, "cisco")
    t = time.time()
    b.command("dial 200")
    L.wait_for(lambda: failure_lines(b), 10, "the call's failure line")
    time.sleep(1.5)  # a second line or a fourth INVITE would come now
    lines = failure_lines(b)
    assert len(lines) == 1, "%d failure lines:\n%s" % (len(lines),
                                                      "\n".join(lines))
    want = "; ".join("server %d sip:%s: 503 Service Unavailable" % (i + 1,
                                                                  ip)
                     for i, ip in enumerate(SERVERS))
    assert lines[0].rstrip().endswith(
        "srvfailover: %s: call to 200 failed: %s" % (USER, want)), \
        "failure line:\n%s\nwant it to end with:\n%s" % (lines[0], want)
    inv = invite_attempts(lab, t)
    assert [m.dst for m in inv] == SERVERS, \
        "INVITE sequence %s:\n%s" % ([m.dst for m in inv], L.summary(inv))
    msgs = lab.wire()
    assert all(attempt_answer(msgs, m).status == 503 for m in inv)
    assert not b.ctrl.events_of("CALL_ESTABLISHED", since=t)
    assert not b.ctrl.events_of("CALL_RINGING", since=t)
    calls = b.command("listcalls")
    assert "ESTABLISHED" not in calls and "OUTGOING" not in calls, calls
    print("after the failed call: " + describe(b.status()))
    # the servers register and answer OPTIONS: the line recovers
    wait_status(b, "back on server 1", registered_on("cisco", 1), 25)
    L.wait_for(lambda: kams[S1].contacts(USER), 5, "contact at " + S1)


def test_parallel_call_fails_once_naming_what_each_server_did(lab):
    """Server 1 answers 503, server 2 is hung, server 3 is dead (ICMP):
    one line says so, server by server, after the budget of server 2."""
    b, kams = start(lab, srvfailover=config("parallel", line_params=QUIET),
                    defines={S1: ["INVITE_503"]})
    wait_steady(b, "parallel")
    kams[S2].stop()
    kams[S3].kill()
    t = time.time()
    b.command("dial 200")
    L.wait_for(lambda: failure_lines(b), 10, "the call's failure line")
    took = time.time() - t
    time.sleep(1.5)
    lines = failure_lines(b)
    assert len(lines) == 1, "%d failure lines:\n%s" % (len(lines),
                                                      "\n".join(lines))
    print(lines[0])
    print("failed after %.1fs" % took)
    m = re.search(r"call to 200 failed: server 1 sip:%s: 503 Service "
                  r"Unavailable; server 2 sip:%s: no answer to INVITE "
                  r"after 3 retransmissions; server 3 sip:%s: (.+)$" % (
                      S1, S2, S3), lines[0])
    assert m, "failure line does not name each server and what it did:" \
        "\n%s" % lines[0]
    assert m.group(1).strip(), "no reason for server 3"
    inv = invite_attempts(lab, t)
    assert [x.dst for x in inv] == SERVERS, \
        "INVITE sequence %s:\n%s" % ([x.dst for x in inv], L.summary(inv))
    assert 3.0 < took < 6.0, "the call failed after %.1fs (budget of " \
        "server 2: 3.5 s)" % took
    assert not b.ctrl.events_of("CALL_ESTABLISHED", since=t)


def callee_busy(lab, mode):
    b, kams = start(lab, mode, uas="uas_486")
    wait_steady(b, mode)
    t = time.time()
    b.command("dial 200")
    closed = b.ctrl.wait_event("CALL_CLOSED", 10, since=t)
    time.sleep(2)  # any (wrong) second attempt would come now
    inv = invite_attempts(lab, t)
    assert [m.dst for m in inv] == [S1], \
        "486 from the callee must end the call (no failover):\n%s" % \
        L.summary(inv)
    assert "486" in closed.get("param", ""), closed
    assert len(b.ctrl.events_of("CALL_CLOSED", since=t)) == 1
    assert not failure_lines(b), "a failure line for the callee's 486"
    st = b.status()
    assert L.working(st, USER) == 1, "the busy callee moved the line: %s" % st
    assert states_are(STEADY[mode])(L.line_of(st, USER)), describe(st)
    s1 = server_of(L.line_of(st, USER), 1)
    assert s1.get("failures") == 0, "the callee's 486 counted as a " \
        "failure of server 1: %s" % s1


def test_parallel_callee_busy_is_not_failed_over(lab):
    callee_busy(lab, "parallel")


def test_cisco_invite_failover_then_hangup_cancels_on_server_2(lab):
    """The failed-over call rings (the callee never answers); the user's
    hangup cancels it on server 2."""
    b, kams = start(lab, "cisco", defines={S1: ["INVITE_503"]},
                    uas="uas_ring")
    wait_steady(b, "cisco")
    t = time.time()
    b.command("dial 200")
    b.ctrl.wait_event("CALL_RINGING", 10, since=t)
    inv = invite_attempts(lab, t)
    assert [m.dst for m in inv] == [S1, S2], L.summary(inv)
    calls = b.command("listcalls")
    assert calls.strip() and "200" in calls, \
        "listcalls does not show the ringing call: %r" % calls
    th = time.time()
    b.command("hangup")
    b.ctrl.wait_event("CALL_CLOSED", 5, since=th)
    cancel = lab.wire_until(lambda m: [x for x in L.requests(m, "CANCEL")
                                       if x.t >= th and
                                       x.src not in SERVERS],
                            5, "baresip's CANCEL")[0]
    assert cancel.dst == S2 and cancel.call_id == inv[1].call_id, \
        "CANCEL went to %s:\n%s" % (cancel.dst, L.summary([cancel]))
    lab.wire_until(lambda m: [x for x in m if x.status == 487 and
                              x.src == S2 and x.dst == L.PHONE], 5,
                   "487 for the cancelled INVITE from " + S2)
    assert not b.ctrl.events_of("CALL_ESTABLISHED", since=t)
    assert not failure_lines(b), "the user's hangup reported as a failure"


def test_dialdir_goes_through_working_server_and_fails_over(lab):
    """baresip 1.1.0's and 4.x's menu has a second dialling command,
    dialdir: it is routed like dial. Cisco mode: a dialdir to server 3
    (Reachable, not registered) goes through server 3's own account
    (menu alone would take server 2's, the first unregistered one). Server 1 answers INVITE
    with 503: a bare dialdir goes to server 1, then again to server 2."""
    b, kams = start(lab, "cisco", defines={S1: ["INVITE_503"]})
    wait_steady(b, "cisco")
    t = time.time()
    b.command("dialdir 200@%s sendrecv" % S3)
    b.ctrl.wait_event("CALL_ESTABLISHED", 10, since=t)
    inv = invite_attempts(lab, t)
    assert [m.dst for m in inv] == [S3], L.summary(inv)
    assert USER + "@" + S3 in inv[0].header("from"), \
        "not through server 3's own account: From %s" % \
        inv[0].header("from")
    hangup(b)

    t = time.time()
    b.command("dialdir 200 sendrecv")
    est = b.ctrl.wait_event("CALL_ESTABLISHED", 10, since=t)
    inv = invite_attempts(lab, t)
    assert [m.dst for m in inv] == [S1, S2], \
        "dialdir INVITEs went to %s, want %s then %s:\n%s" % (
            [m.dst for m in inv], S1, S2, L.summary(inv))
    assert est.get("accountaor") == "sip:%s@%s" % (USER, S2), est
    hangup(b)


test_dialdir_goes_through_working_server_and_fails_over.baresip = (
    "1.1.0", "4.10.0")
