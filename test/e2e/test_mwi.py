"""Voicemail follows the working server (issue 16), against kamailio's
presence_mwi on every lab server, baresip's own mwi.so loaded.

Each server's voicemail says a different count (server N: N new
messages), so every NOTIFY, MWI_NOTIFY event and `json` mwi says which
server it came from. On the wire: the SUBSCRIBEs baresip sent (initial
ones have no To tag; an un-SUBSCRIBE says Expires: 0).
"""

import time

import lab as L
from common import (SERVERS, USER, config, registered_on, start,
                    wait_status, wait_steady)

# baresip loads `module` lines first, `module_app` in their order: mwi.so
# before the module, and after it
MWI_BEFORE = ["module mwi.so"]
MWI_AFTER = ["module_app mwi.so"]
PRESENCE = {ip: ["PRESENCE"] for ip in SERVERS}


def count(ip):
    """The new messages server `ip`'s voicemail says: its priority."""
    return SERVERS.index(ip) + 1


def mwi_lab(lab, mode, extra=MWI_AFTER, srvfailover=None):
    """The standard lab with presence servers, each publishing its count;
    baresip with mwi.so. Returns (baresip, kamailios)."""
    b, kams = start(lab, mode, srvfailover=srvfailover, extra=extra,
                    defines=PRESENCE)
    for ip, k in kams.items():
        k.publish_mwi(USER, count(ip))
    return b, kams


def subscribes(lab, ip=None, since=0.0, initial=None, unsub=None):
    """SUBSCRIBEs baresip sent (to ip) since then; initial: without a To
    tag; unsub: Expires: 0."""
    out = []
    for m in L.requests(lab.wire(), "SUBSCRIBE", src=L.PHONE, dst=ip):
        if m.t < since:
            continue
        first = ";tag=" not in m.header("to")
        zero = m.header("expires").strip() == "0"
        if initial is not None and first != initial:
            continue
        if unsub is not None and zero != unsub:
            continue
        out.append(m)
    return out


def mwi_is(prio):
    """check(): json's mwi is server prio's count."""
    return lambda line: (line.get("mwi") or {}).get("prio") == prio and \
        line["mwi"].get("new") == prio and line["mwi"].get("waiting")


def wait_mwi(b, prio, timeout=10):
    return wait_status(b, "voicemail of server %d in json" % prio,
                       mwi_is(prio), timeout)


def mwi_events(b, since=0.0):
    return b.ctrl.events_of("MWI_NOTIFY", since)


def event_server(e):
    """Which lab server an MWI_NOTIFY event came through: its count."""
    aor = e.get("accountaor", "")
    return next((count(ip) for ip in SERVERS if "@%s" % ip in aor), None)


def wait_subscribe(lab, ip, since, timeout=5):
    try:
        return lab.wire_until(
            lambda m: subscribes(lab, ip, since, initial=True, unsub=False),
            timeout, "a SUBSCRIBE to %s" % ip)[0]
    except L.LabError as e:
        raise L.LabError("%s; wire since then:\n%s" % (e, L.summary(
            [m for m in lab.wire() if m.t >= since])))


# --------------------------------------------------------------------------
# start: one subscription, through the working server


def one_subscription_at_start(lab, mode, extra=MWI_AFTER):
    b, _ = mwi_lab(lab, mode, extra)
    wait_steady(b, mode)
    wait_mwi(b, 1)
    time.sleep(2)   # what mwi.so or a second line would still send

    subs = subscribes(lab, initial=True)
    assert len(subs) == 1 and subs[0].dst == SERVERS[0], \
        "want one SUBSCRIBE, to %s; got:\n%s" % (SERVERS[0], L.summary(subs))
    assert subs[0].header("event").startswith("message-summary"), \
        subs[0].header("event")
    ev = mwi_events(b)
    assert ev, "no MWI_NOTIFY event"
    assert all(event_server(e) == 1 for e in ev), \
        "MWI_NOTIFY through another server: %s" % ev
    assert "Voice-Message: 1/0" in ev[-1].get("param", ""), ev[-1]
    assert "voicemail: 1 new, 0 old, waiting (server 1)" in \
        b.command("srvfailover status")


def test_parallel_mwi_one_subscription_to_working_server(lab):
    one_subscription_at_start(lab, "parallel")


def test_cisco_mwi_one_subscription_to_working_server(lab):
    one_subscription_at_start(lab, "cisco", MWI_BEFORE)


def test_sequential_mwi_one_subscription_to_working_server(lab):
    one_subscription_at_start(lab, "sequential")


def test_parallel_mwi_so_never_freezes_the_phone(lab):
    """mwi.so's start timer looped forever when a REGISTER_OK came before
    it fired (3 of 7 starts froze). 20 starts, mwi.so before and after
    the module: ctrl_tcp answers, and one SUBSCRIBE each time."""
    kams = {ip: lab.kamailio(ip, defines=["PRESENCE"]) for ip in SERVERS}
    for ip, k in kams.items():
        k.publish_mwi(USER, count(ip), old=0)
    lab.capture()
    bad = []
    for i in range(20):
        t = time.time()
        b = lab.baresip(lab.module, srvfailover=config(
            "parallel", server_params="regint=60"),
            extra=MWI_BEFORE if i % 2 else MWI_AFTER)
        try:
            wait_steady(b, "parallel")
            wait_mwi(b, 1)
            time.sleep(0.5)
            n = len(subscribes(lab, since=t, initial=True))
            if n != 1:
                bad.append("start %d: %d SUBSCRIBEs" % (i + 1, n))
        except L.LabError as e:
            bad.append("start %d: %s" % (i + 1, e))
        b.terminate()
        if b.died:
            bad.append("start %d: %s" % (i + 1, b.died))
    assert not bad, "\n".join(bad)


test_parallel_mwi_so_never_freezes_the_phone.timeout = 240


# --------------------------------------------------------------------------
# a switch moves it, make-before-break


def subscribed_on_switch(lab, b, mode, prio, since, timeout):
    """Wait until the line works on server prio; its SUBSCRIBE (sent
    after since) must have gone within 1 s of the switch being seen."""
    wait_status(b, "working server %d" % prio, registered_on(mode, prio),
                timeout)
    seen = time.time()
    sub = wait_subscribe(lab, SERVERS[prio - 1], since)
    assert sub.t <= seen + 1.0, \
        "SUBSCRIBE to server %d %.2fs after the switch was seen" % (
            prio, sub.t - seen)
    return sub


def follows_failover_and_failback(lab, mode):
    b, kams = mwi_lab(lab, mode)
    wait_steady(b, mode)
    wait_mwi(b, 1)

    t_kill = time.time()
    kams[SERVERS[0]].kill()
    sub = subscribed_on_switch(lab, b, mode, 2, t_kill, 25)
    wait_mwi(b, 2)
    ev = mwi_events(b, sub.t)
    assert ev and all(event_server(e) == 2 for e in ev), ev
    assert "Voice-Message: 2/0" in ev[0].get("param", ""), ev[0]

    kams[SERVERS[0]].restart()
    kams[SERVERS[0]].publish_mwi(USER, 1)
    t_up = time.time()
    sub1 = subscribed_on_switch(lab, b, mode, 1, t_up, 30)
    wait_mwi(b, 1)
    unsub = lab.wire_until(lambda m: subscribes(lab, SERVERS[1], sub1.t,
                                                unsub=True), 5,
                           "un-SUBSCRIBE to server 2")[0]

    # after that, server 2 raises nothing, whatever it publishes
    kams[SERVERS[1]].publish_mwi(USER, 9)
    time.sleep(1.5)
    late = [e for e in mwi_events(b, unsub.t) if event_server(e) != 1]
    assert not late, "events from server 2 after it was left: %s" % late
    assert b.status()["lines"][0]["mwi"]["new"] == 1
    initial = subscribes(lab, initial=True)
    assert [m.dst for m in initial] == SERVERS[:2] + [SERVERS[0]], \
        "SUBSCRIBEs: want server 1, 2, 1; got:\n%s" % L.summary(initial)


def test_parallel_mwi_follows_failover_and_failback(lab):
    follows_failover_and_failback(lab, "parallel")


def test_cisco_mwi_follows_failover_and_failback(lab):
    follows_failover_and_failback(lab, "cisco")


def test_sequential_mwi_follows_failover_and_failback(lab):
    follows_failover_and_failback(lab, "sequential")


def test_cisco_mwi_no_on_backup_means_no_voicemail_there(lab):
    text = config("cisco").replace(
        "<sip:%s@%s;transport=udp>;" % (USER, SERVERS[1]),
        "<sip:%s@%s;transport=udp>;mwi=no;" % (USER, SERVERS[1]))
    b, kams = mwi_lab(lab, "cisco", srvfailover=text)
    wait_steady(b, "cisco")
    wait_mwi(b, 1)

    kams[SERVERS[0]].kill()
    wait_status(b, "working server 2", registered_on("cisco", 2), 25)
    wait_status(b, "no voicemail in json", lambda l: l.get("mwi") is None,
                5)
    time.sleep(1)
    assert not subscribes(lab, SERVERS[1]), L.summary(
        subscribes(lab, SERVERS[1]))
    assert "voicemail" not in b.command("srvfailover status")


def test_cisco_mwi_quit_unsubscribes_within_the_quit_budget(lab):
    b, _ = mwi_lab(lab, "cisco")
    wait_steady(b, "cisco")
    wait_mwi(b, 1)

    t = time.time()
    b.ctrl.request("quit")
    L.wait_for(lambda: b.popen.poll() is not None, 5, "baresip to quit")
    took = time.time() - t
    unsub = subscribes(lab, SERVERS[0], t, unsub=True)
    assert unsub, "no un-SUBSCRIBE at quit:\n%s" % L.summary(
        [m for m in lab.wire() if m.t >= t])
    assert took < 2.5, "baresip took %.1fs to quit" % took
