"""The scenarios every registration mode goes through (not a test file).

test_parallel.py, test_cisco.py and test_sequential.py call these with
their mode. Each step checks the module's JSON and the wire.
"""

import time

import lab as L
from common import (DETECT, FAILBACK, SERVERS, STEADY, USER,
                    assert_no_register, describe, registered_on,
                    server_state, srvfailover_lines, start, states_are,
                    wait_register_ok, wait_status, wait_steady,
                    wait_unregister)

S1, S2, S3 = SERVERS


def startup(lab, mode):
    """(a) The right states, and REGISTERs only where the mode says."""
    b, kams = start(lab, mode)
    wait_steady(b, mode)
    wait_register_ok(lab, S1, lab.t_start)
    if mode == "parallel":
        for ip in (S2, S3):
            wait_register_ok(lab, ip, lab.t_start)
            L.wait_for(lambda: kams[ip].contacts(USER), 5,
                       "contact of %s at %s" % (USER, ip))
    L.wait_for(lambda: kams[S1].contacts(USER), 5, "contact at " + S1)

    # stays so for a few probe intervals
    time.sleep(6)
    st = b.status()
    assert states_are(STEADY[mode])(L.line_of(st, USER)) and \
        L.working(st, USER) == 1, "after 6 s: " + describe(st)
    if mode != "parallel":
        assert_no_register(lab, [S2, S3], "%s start-up" % mode)
        for ip in (S2, S3):
            assert not kams[ip].contacts(), "contact at %s: %s" % (
                ip, kams[ip].contacts())
    if mode == "sequential":
        # Standby: "not registered, not probed" (SPEC): nothing at all
        msgs = lab.wire()
        sent = [m for m in L.requests(msgs, src=L.PHONE) if m.dst in (S2, S3)]
        assert not sent, "requests to Standby servers:\n" + L.summary(sent)
    if mode == "cisco":
        # readiness of .3/.4 is checked without registering
        msgs = lab.wire()
        for ip in (S2, S3):
            checks = [m for m in L.requests(msgs, src=L.PHONE, dst=ip)
                      if m.method != "REGISTER"]
            assert checks, "no readiness check (any request) to %s:\n%s" \
                % (ip, L.summary(msgs))
    assert srvfailover_lines(b), "no 'srvfailover:' line in baresip's output"


def _fail_back(lab, b, kams, mode, t_restart):
    """Main server back: working 1 again; cisco/sequential unregister .3."""
    wait_status(b, "fail-back to server 1 (working 1)",
                registered_on(mode, 1), FAILBACK[mode])
    req, resp = wait_register_ok(lab, S1, t_restart)
    if mode == "parallel":
        wait_status(b, "all three registered again",
                    states_are(STEADY[mode]), 10)
        return
    unreg = wait_unregister(lab, S2, resp.t)
    assert unreg.t >= resp.t
    L.wait_for(lambda: not kams[S2].contacts(USER), 5,
               "contact at %s removed" % S2)
    wait_status(b, "steady again", states_are(STEADY[mode]), 10)
    # one un-REGISTER (sent again once with credentials when
    # challenged), and its answer is no new registration (baresip 4.x
    # says REGISTER_OK for it: taken as one, an un-REGISTER storm)
    time.sleep(2)
    sent = [m for m in L.requests(lab.wire(), "REGISTER", src=L.PHONE,
                                  dst=S2) if m.t >= resp.t]
    assert len({(m.call_id, m.cseq) for m in sent}) <= 2 and \
        all(m.is_unregister for m in sent), \
        "after fail-back, to %s (one un-REGISTER wanted):\n%s" % (
            S2, L.summary(sent))
    assert_no_register(lab, [S3], "%s failover" % mode)


def failover_kill(lab, mode):
    """(b) kill -9 of the main server: line on server 2; back when it is."""
    b, kams = start(lab, mode)
    wait_steady(b, mode)
    t_kill = time.time()
    kams[S1].kill()
    line = wait_status(b, "working server 2 after kill -9 of " + S1,
                       registered_on(mode, 2), DETECT)
    took = time.time() - t_kill
    assert not (server_state(line, 1) or "").startswith("Registered"), \
        describe({"lines": [line]})
    if mode != "parallel":
        wait_register_ok(lab, S2, t_kill)
        assert_no_register(lab, [S3], "%s failover" % mode)
    t_restart = time.time()
    kams[S1].start()
    _fail_back(lab, b, kams, mode, t_restart)
    print("detected in %.1fs" % took)


def failover_503(lab, mode):
    """(c) main server replaced by a 503 responder: same failover."""
    b, kams = start(lab, mode)
    wait_steady(b, mode)
    t_swap = time.time()
    lab.drop(S1)  # no ICMP while kamailio is gone and sipp not yet there
    kams[S1].kill()
    r503 = lab.responder_503(S1)
    lab.drop(S1, on=False)
    wait_status(b, "working server 2 while %s answers 503" % S1,
                registered_on(mode, 2), DETECT)
    why = [l for l in srvfailover_lines(b) if "503" in l]
    assert why, "no 'srvfailover:' line gives the 503 as a reason"
    if mode != "parallel":
        wait_register_ok(lab, S2, t_swap)
        assert_no_register(lab, [S3], "%s failover" % mode)
    # the module keeps checking .2 and meets the 503
    lab.wire_until(lambda m: [x for x in m if x.status == 503 and
                              x.src == S1 and x.dst == L.PHONE],
                   15, "a 503 from %s to baresip" % S1)
    st = b.status()
    assert L.working(st, USER) == 2, "503 period: " + describe(st)
    r503.kill()
    t_restart = time.time()
    kams[S1].start()
    _fail_back(lab, b, kams, mode, t_restart)


def call_survives_switch(lab, mode):
    """(d) a call through server 1 survives the switch to server 2."""
    b, kams = start(lab, mode)
    wait_steady(b, mode)
    t_dial = time.time()
    b.command("dial 200")
    est = b.ctrl.wait_event("CALL_ESTABLISHED", 10, since=t_dial)
    invites = L.requests(lab.wire(), "INVITE", src=L.PHONE)
    assert invites and invites[0].dst == S1, \
        "bare dial 200 did not go to %s:\n%s" % (S1, L.summary(invites))
    call_id = est.get("id")
    assert call_id, "CALL_ESTABLISHED without a call id: %s" % est

    t_kill = time.time()
    kams[S1].kill()
    wait_status(b, "working server 2 after kill -9 of %s (call up)" % S1,
                registered_on(mode, 2), DETECT)
    for _ in range(2):  # right after the switch, and 3 s later
        closed = b.ctrl.events_of("CALL_CLOSED", since=t_dial)
        assert not closed, "the call was closed: %s" % closed
        ends = [m for m in lab.wire() if m.method in ("BYE", "CANCEL")
                and m.t >= t_dial]
        assert not ends, "call ended on the wire:\n" + L.summary(ends)
        assert b.running(), "baresip died"
        time.sleep(3)
    if mode != "parallel":
        wait_register_ok(lab, S2, t_kill)
    # the call is still the user's: listed, and hangup ends it
    calls = b.command("listcalls")
    print("listcalls after the switch: %r (call id %s)" % (calls, call_id))
    assert "ESTABLISHED" in calls, \
        "listcalls after the switch does not show the call: %r" % calls
    st = b.status()
    s1 = [s for s in L.line_of(st, USER)["servers"] if s["prio"] == 1][0]
    assert s1.get("calls") == 1, "JSON: the call is not counted on " \
        "server 1 after the switch: %s" % s1
    t_hang = time.time()
    b.command("hangup")
    closed = b.ctrl.wait_event("CALL_CLOSED", 5, since=t_hang)
    assert closed.get("id") == call_id, "hangup closed %s, not the call " \
        "%s" % (closed.get("id"), call_id)
    lab.wire_until(lambda m: [x for x in L.requests(m, "BYE")
                              if x.t >= t_hang and x.src == L.PHONE],
                   5, "baresip's BYE after the hangup")
    wait_status(b, "no call counted after the hangup",
                lambda line: all(s.get("calls") == 0
                                 for s in line["servers"]), 5)

