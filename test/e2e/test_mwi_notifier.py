"""Voicemail against a notifier that misbehaves (notifier.Notifier, a
scripted registrar + message-summary notifier on 127.0.0.5): how the
module subscribes again after each end RFC 6665 names, and what a
hostile notifier cannot do to the phone.

One cisco line with one server, the notifier (no auth), baresip with
mwi.so. Times are measured on the wire (tcpdump), from the 481 or the
NOTIFY that ended the subscription to the SUBSCRIBE that follows.
"""

import contextlib
import time

import common as C
import lab as L
from notifier import Notifier, summary_body

IP = "127.0.0.5"
LINE = ("<sip:100@%s;transport=udp>;regint=60%s;sfo_mode=cisco;"
        "sfo_probe_interval=2;sfo_failback=immediate;sfo_retry_base=2;"
        "sfo_retry_max=8")
FIRST = summary_body(2, 8, ip=IP)   # what the notifier says at first


def mwi_is(new, old, waiting=True):
    """check(): json's mwi says these counts, from server 1."""
    want = {"prio": 1, "waiting": waiting, "new": new, "old": old}
    return lambda line: line.get("mwi") == want


def wait_mwi(b, new, old, timeout=10):
    return C.wait_status(b, "voicemail %d/%d in json" % (new, old),
                         mwi_is(new, old), timeout)


@contextlib.contextmanager
def notifier_lab(lab, n, auth_pass=None):
    """Capture, the notifier n, baresip with mwi.so on one line to it;
    yields (baresip, n) once the line works and json shows FIRST's
    counts. baresip is stopped while n still answers its un-SUBSCRIBE."""
    C.need_module(lab)
    lab.capture()
    n.body = FIRST
    n.start()
    try:
        b = lab.baresip(lab.module, srvfailover=LINE % (
            IP, ";auth_pass=" + auth_pass if auth_pass else ""),
            extra=["module_app mwi.so"])
        C.wait_status(b, "line 100 working on server 1",
                      lambda line: line.get("working") == 1, C.SETTLE)
        n.wait_subscribed(15)
        wait_mwi(b, 2, 8)
        yield b, n
        b.terminate()
    finally:
        n.stop()


def initial_subscribes(msgs, since):
    """New subscriptions on the wire since then: SUBSCRIBEs of the phone
    without a To tag (not un-SUBSCRIBEs)."""
    return [m for m in L.requests(msgs, "SUBSCRIBE", src=L.PHONE)
            if m.t >= since and ";tag=" not in m.header("to") and
            m.header("expires").strip() != "0"]


def wire_time(lab, sent):
    """When a NOTIFY the notifier sent (a SipMsg) first was on the wire."""
    return lab.wire_until(lambda ms: [
        m for m in L.requests(ms, "NOTIFY", src=IP)
        if m.call_id == sent.call_id and m.cseq == sent.cseq], 5,
        "NOTIFY CSeq %d on the wire" % sent.cseq)[0].t


def ended_with(n, state):
    """The NOTIFY (sent) whose Subscription-State starts so."""
    return [m for m in n.notifies()
            if m.header("subscription-state").startswith(state)][-1]


def wait_subscribe_after(lab, t, timeout):
    try:
        return lab.wire_until(lambda ms: initial_subscribes(ms, t),
                              timeout, "a new SUBSCRIBE")[0]
    except L.LabError as e:
        raise L.LabError("%s; wire since then:\n%s" % (e, L.summary(
            [m for m in lab.wire() if m.t >= t])))


def end_line(b, text):
    return [l for l in b.lines("voicemail subscription through server 1 "
                               "ended") if text in l]


# --------------------------------------------------------------------------
# ends of a subscription (RFC 6665 4.1.3)


def test_mwi_481_to_a_refresh_subscribes_again(lab):
    """A 4 s subscription: libre refreshes it after 3.6 s, the notifier
    has forgotten it (481): a new subscription (no To tag, a new Call-ID)
    within 2 s of the 481, and json shows the new NOTIFY's counts."""
    n = Notifier(IP, expires=4)
    n.answer_refresh_with(481, count=1)
    with notifier_lab(lab, n) as (b, n):
        first = n.subscribes(initial=True)
        assert len(first) == 1, first
        n.body = summary_body(4, 1, ip=IP)   # only a new NOTIFY says this
        r481 = lab.wire_until(lambda ms: [
            m for m in ms if not m.is_request and m.status == 481 and
            m.src == IP and m.cseq_method == "SUBSCRIBE"], 15,
            "the 481 to the refresh")[0]
        sub = wait_subscribe_after(lab, r481.t, 8)
        assert sub.t - r481.t <= 2.0, \
            "new SUBSCRIBE %.2fs after the 481:\n%s" % (
                sub.t - r481.t, L.summary(
                    [m for m in lab.wire() if m.t >= r481.t - 1]))
        assert sub.call_id != first[0].call_id, "same dialog: " + sub.raw
        n.wait_subscribed(10, since=sub.t)
        wait_mwi(b, 4, 1)
        assert end_line(b, "(481): subscribing again"), \
            b.lines("voicemail")


def test_mwi_terminated_deactivated_subscribes_again_at_once(lab):
    with notifier_lab(lab, Notifier(IP)) as (b, n):
        n.body = summary_body(3, 0, ip=IP)   # what the next one says
        assert n.notify(FIRST, state="terminated",
                        reason="deactivated") == 200
        t = wire_time(lab, ended_with(n, "terminated"))
        sub = wait_subscribe_after(lab, t, 8)
        assert sub.t - t <= 2.0, "new SUBSCRIBE %.2fs after the NOTIFY " \
            "terminated;reason=deactivated" % (sub.t - t)
        n.wait_subscribed(10, since=sub.t)
        wait_mwi(b, 3, 0)
        assert end_line(b, "(terminated, reason deactivated): "
                        "subscribing again"), b.lines("voicemail")


def test_mwi_terminated_rejected_is_not_renewed(lab):
    with notifier_lab(lab, Notifier(IP)) as (b, n):
        assert n.notify(state="terminated", reason="rejected") == 200
        t = wire_time(lab, ended_with(n, "terminated"))
        C.wait_status(b, "no voicemail in json",
                      lambda line: line.get("mwi") is None, 5)
        time.sleep(max(0.0, t + 5.5 - time.time()))
        subs = [m for m in L.requests(lab.wire(), "SUBSCRIBE", src=L.PHONE)
                if m.t >= t]
        assert not subs, "SUBSCRIBE after rejected:\n%s" % L.summary(subs)
        assert b.status()["lines"][0].get("mwi") is None, b.status()
        assert end_line(b, "(terminated, reason rejected): not "
                        "subscribing again"), b.lines("voicemail")


def test_mwi_probation_waits_for_retry_after(lab):
    with notifier_lab(lab, Notifier(IP)) as (b, n):
        assert n.notify(state="terminated", reason="probation",
                        retry_after=3) == 200
        t = wire_time(lab, ended_with(n, "terminated"))
        sub = wait_subscribe_after(lab, t, 10)
        assert 2.5 <= sub.t - t <= 6.0, \
            "new SUBSCRIBE %.2fs after retry-after=3" % (sub.t - t)
        n.wait_subscribed(10, since=sub.t)
        wait_mwi(b, 2, 8)


# --------------------------------------------------------------------------
# a hostile notifier


# kind (the module's words in its log line) -> a body of that kind
BAD = {
    "no Messages-Waiting line":
        "Message-Account: sip:100@%s\r\nVoice-Message: 3/0\r\n" % IP,
    "a message count is out of range":
        "Messages-Waiting: yes\r\nVoice-Message: 4294967296/0\r\n",
    "a message count is not a number":
        "Messages-Waiting: yes\r\nVoice-Message: abc/1\r\n",
    "larger than 4096 bytes":
        ("Messages-Waiting: yes\r\nVoice-Message: 9/9\r\nX-Pad: " +
         "x" * 5000)[:4998] + "\r\n",
    "a line is not NAME: VALUE":   # NUL, controls, high bytes, no colon
        "".join(map(chr, range(10))) + "".join(map(chr, range(128, 256))),
}
REPEAT = 20


def test_mwi_hostile_notifier(lab):
    """Bad bodies (each kind 20 times), a flood of 200 identical NOTIFYs
    in a second, a NOTIFY for no dialog: the phone runs on, keeps the
    last good counts, raises one event for the flood, logs each kind of
    bad body once, and never logs its password."""
    with notifier_lab(lab, Notifier(IP), auth_pass=C.PW) as (b, n):
        t0 = time.time()
        for why, body in BAD.items():
            codes = {n.notify(body) for _ in range(REPEAT)}
            assert codes == {200}, "%s: answers %s" % (why, codes)
        wait_mwi(b, 2, 8, timeout=2)
        ev = b.ctrl.events_of("MWI_NOTIFY", t0)
        assert not ev, "events for bad bodies: %s" % ev

        t1 = time.time()
        flood = summary_body(5, 1, ip=IP)
        for i in range(200):
            n.notify(flood, wait=False)
            time.sleep(max(0.0, t1 + (i + 1) * 0.005 - time.time()))
        n.wait_answers(30)
        codes = [m.status for m in n.notifies(t1)]
        assert len(codes) == 200 and set(codes) == {200}, \
            "answers to the flood: %s" % sorted(set(codes))
        wait_mwi(b, 5, 1, timeout=5)
        time.sleep(1)   # an event raised late would be counted
        ev = b.ctrl.events_of("MWI_NOTIFY", t1)
        assert len(ev) == 1, "%d MWI_NOTIFY events for 200 identical " \
            "NOTIFYs: %s" % (len(ev), ev[:3])
        assert "Voice-Message: 5/1" in ev[0].get("param", ""), ev[0]

        t2 = time.time()
        code = n.stray_notify(summary_body(7, 7, ip=IP))
        assert code == 481, "NOTIFY for no dialog answered %s" % code

        assert b.running(), "baresip ended"
        wait_mwi(b, 5, 1, timeout=2)      # ctrl answers, counts kept
        assert not b.ctrl.events_of("MWI_NOTIFY", t2)
        ignored = b.lines("voicemail NOTIFY ignored")
        for why in BAD:
            got = [l for l in ignored if "ignored: %s (" % why in l]
            assert len(got) == 1, "%d lines for %r (sent %d times):\n%s" % (
                len(got), why, REPEAT, "\n".join(ignored))
        assert len(ignored) == len(BAD), "\n".join(ignored)
        assert C.PW not in b.log_text(), "the password is in the log"


test_mwi_hostile_notifier.timeout = 180
