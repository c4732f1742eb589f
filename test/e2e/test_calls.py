"""Outgoing calls: which server they use, INVITE failover, and switches
that must wait for a call to end."""

import time

import lab as L
from common import (SERVERS, USER, registered_on, start, states_are,
                    wait_status, wait_steady)

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
    b, kams = start(lab, "cisco", uas="uas_486")
    wait_steady(b, "cisco")
    t = time.time()
    b.command("dial 200")
    closed = b.ctrl.wait_event("CALL_CLOSED", 10, since=t)
    time.sleep(2)  # any (wrong) second attempt would come now
    inv = [m for m in L.requests(lab.wire(), "INVITE", src=L.PHONE)
           if m.t >= t]
    assert [m.dst for m in inv] == [S1], \
        "486 from the callee must end the call (no failover):\n%s" % \
        L.summary(inv)
    assert "486" in closed.get("param", ""), closed
    st = b.status()
    assert L.working(st, USER) == 1, "the busy callee moved the line: %s" % st


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
