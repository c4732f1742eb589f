"""The lab's voicemail (MWI) servers themselves, without baresip.

kamailio.cfg with PRESENCE (lab.kamailio(ip, presence=True)) must take a
PUBLISH of a message count and NOTIFY it to every message-summary
subscriber, each server its own count, so that the module's tests can
tell from a NOTIFY which server it came from. A plain Python UDP socket
subscribes here (lab.sip_* helpers).
"""

import os

import common as C
import lab as L

SUBSCRIBER = "127.0.0.96"  # the tests' subscriber (no other lab process)


def subscribe(sock, server, user, expires=600, dialog=None, inbox=None,
              event="message-summary",
              accept="application/simple-message-summary"):
    """SUBSCRIBE to `event` of sip:USER@server (a new dialog, or a
    refresh within `dialog`); returns (final response, dialog).

    dialog: {"call_id", "from_tag", "to_tag", "cseq"}, filled from the
    200 (its To tag is the server's dialog tag)."""
    uri = "sip:%s@%s" % (user, ("[%s]" if ":" in server else "%s")
                         % server)
    d = dict(dialog) if dialog else {
        "call_id": "sub-" + os.urandom(8).hex(),
        "from_tag": os.urandom(4).hex(), "to_tag": None, "cseq": 0}
    d["cseq"] += 1
    ip, port = sock.getsockname()[:2]
    to = "To: <%s>" % uri + (";tag=" + d["to_tag"] if d["to_tag"] else "")
    req = L.sip_request(sock, "SUBSCRIBE", uri, [
        "From: <%s>;tag=%s" % (uri, d["from_tag"]), to,
        "Call-ID: " + d["call_id"], "CSeq: %d SUBSCRIBE" % d["cseq"],
        "Contact: <sip:%s@%s>" % (user, L.hostport(ip, port)),
        "Event: " + event, "Accept: " + accept,
        "Expires: %d" % expires])
    r = L.sip_transaction(sock, (server, 5060), req, inbox=inbox)
    if r.status == 200 and not d["to_tag"]:
        d["to_tag"] = tag_of(r.header("to"))
    return r, d


def tag_of(value):
    """The tag parameter of a From/To header value ('' when none)."""
    for p in value.split(";")[1:]:
        k, _, v = p.partition("=")
        if k.strip().lower() == "tag":
            return v.strip()
    return ""


def next_notify(sock, inbox, dialog, timeout=5, changed=True):
    """The next NOTIFY of `dialog` with a new CSeq, answered 200 (so the
    server stops resending it); a retransmission of one already seen is
    answered again and skipped. changed: skip too an active NOTIFY that
    repeats the last one's body: a notifier may NOTIFY the same state
    again at any time (RFC 6665 4.2.2), and kamailio does when a PUBLISH
    answered before the SUBSCRIBE is still being notified as it comes."""
    while True:
        n = L.sip_receive(sock, timeout, "NOTIFY", inbox)
        L.sip_answer(sock, n)
        if n.call_id != dialog["call_id"] or \
                n.cseq <= dialog.get("notify_cseq", 0):
            continue
        dialog["notify_cseq"] = n.cseq
        repeat = n.body == dialog.get("notify_body") and \
            n.header("subscription-state").startswith("active")
        dialog["notify_body"] = n.body
        if not (changed and repeat):
            return n


def assert_count(notify, server, user, new, old=0):
    """A NOTIFY from `server` saying user's count is new/old."""
    body = notify.body
    assert notify.src == server, "NOTIFY from %s, not %s" % (
        notify.src, server)
    assert notify.header("event") == "message-summary", notify.raw
    assert "Voice-Message: %d/%d" % (new, old) in body, \
        "NOTIFY body from %s:\n%s" % (server, body)
    assert "Message-Account: sip:%s@%s" % (user, server) in body, body
    assert ("Messages-Waiting: %s" % ("yes" if new else "no")) in body, body


def test_presence_mwi_notify(lab):
    """Publish 3, subscribe (not challenged, even with digest auth on):
    200 and a NOTIFY with 3/0 whose Contact is the server; publish 5:
    NOTIFY 5/0; an in-dialog refresh (To tag) gets 200 and a NOTIFY, an
    un-SUBSCRIBE a final NOTIFY that says terminated."""
    lab.capture()
    ip = "127.0.0.2"
    k = lab.kamailio(ip, presence=True, auth_pw=C.PW)
    k.publish_mwi("100", 3)
    assert [p["event"] for p in k.presentities("100")] == \
        ["message-summary"], k.presentities()
    inbox = []
    with L.sip_socket(SUBSCRIBER) as s:
        r, d = subscribe(s, ip, "100", inbox=inbox)
        assert r.status == 200, r.first
        assert d["to_tag"], "no To tag in the 200: " + r.raw
        n = next_notify(s, inbox, d)
        assert_count(n, ip, "100", 3)
        assert tag_of(n.header("from")) == d["to_tag"], n.raw
        assert n.header("contact") == "<sip:%s:5060>" % ip, n.raw
        assert n.header("subscription-state").startswith("active"), n.raw

        k.publish_mwi("100", 5)
        assert_count(next_notify(s, inbox, d), ip, "100", 5)
        assert len(k.presentities("100")) == 1, k.presentities()

        r, d = subscribe(s, ip, "100", dialog=d, inbox=inbox)
        assert r.status == 200, "refresh: " + r.first
        n = next_notify(s, inbox, d, changed=False)
        assert_count(n, ip, "100", 5)

        r, d = subscribe(s, ip, "100", expires=0, dialog=d, inbox=inbox)
        assert r.status == 200, "un-SUBSCRIBE: " + r.first
        n = next_notify(s, inbox, d)
        assert n.header("subscription-state").startswith("terminated"), \
            n.raw


def test_presence_per_server_counts(lab):
    """Two presence servers (one made by the define alone, as
    common.start(defines={ip: ["PRESENCE"]}) does) with different counts
    for the same user: each NOTIFY says its own server's count."""
    counts = {"127.0.0.2": 2, "127.0.0.3": 7}
    k2 = lab.kamailio("127.0.0.2", presence=True)
    k3 = lab.kamailio("127.0.0.3", defines=["PRESENCE"])
    k2.publish_mwi("100", counts["127.0.0.2"])
    k3.publish_mwi("100", counts["127.0.0.3"], old=1)
    with L.sip_socket(SUBSCRIBER) as s:
        for ip, new in counts.items():
            inbox = []
            r, d = subscribe(s, ip, "100", inbox=inbox)
            assert r.status == 200, "%s: %s" % (ip, r.first)
            assert_count(next_notify(s, inbox, d), ip, "100", new,
                         1 if ip == "127.0.0.3" else 0)
        # and a user nobody published for: subscribed, no messages
        inbox = []
        r, d = subscribe(s, "127.0.0.2", "101", inbox=inbox)
        assert r.status == 200, r.first
        n = next_notify(s, inbox, d)
        assert "Voice-Message" not in n.body, n.body


def test_presence_pidf_per_server(lab):
    """Presence (presence_xml): each server NOTIFYs the PIDF document
    published to it for sip:200@server, basic status and activity as
    published; a new PUBLISH is NOTIFYed to the subscriber."""
    k2 = lab.kamailio("127.0.0.2", presence=True)
    k3 = lab.kamailio("127.0.0.3", defines=["PRESENCE"])
    k2.publish_presence("200", "open")
    k3.publish_presence("200", "open", activity="on-the-phone")
    with L.sip_socket(SUBSCRIBER) as s:
        inbox = []
        r, d = subscribe(s, "127.0.0.2", "200", inbox=inbox,
                         event="presence", accept="application/pidf+xml")
        assert r.status == 200, r.first
        n = next_notify(s, inbox, d)
        assert n.header("event") == "presence", n.raw
        assert n.header("content-type") == "application/pidf+xml", n.raw
        assert "<basic>open</basic>" in n.body, n.body
        assert "on-the-phone" not in n.body, n.body

        k2.publish_presence("200", "closed")
        assert "<basic>closed</basic>" in next_notify(s, inbox, d).body

        inbox = []
        r, d = subscribe(s, "127.0.0.3", "200", inbox=inbox,
                         event="presence", accept="application/pidf+xml")
        assert r.status == 200, r.first
        n = next_notify(s, inbox, d)
        assert "on-the-phone" in n.body, n.body


def test_presence_mwi_481_and_off(lab):
    """MWI_481: the first SUBSCRIBE works, its refresh gets 481. Without
    PRESENCE the config is as before: PUBLISH and SUBSCRIBE 405, an
    in-dialog SUBSCRIBE 404."""
    k = lab.kamailio("127.0.0.4", presence=True, defines=["MWI_481"])
    k.publish_mwi("100", 1)
    plain = lab.kamailio("127.0.0.5")
    with L.sip_socket(SUBSCRIBER) as s:
        inbox = []
        r, d = subscribe(s, "127.0.0.4", "100", inbox=inbox)
        assert r.status == 200, r.first
        assert_count(next_notify(s, inbox, d), "127.0.0.4", "100", 1)
        r, _ = subscribe(s, "127.0.0.4", "100", dialog=d, inbox=inbox)
        assert r.status == 481, "refresh under MWI_481: " + r.first

        r, d = subscribe(s, "127.0.0.5", "100")
        assert r.status == 405, "SUBSCRIBE without PRESENCE: " + r.first
        d["to_tag"] = "x1"
        r, _ = subscribe(s, "127.0.0.5", "100", dialog=d)
        assert r.status == 404, "in-dialog without PRESENCE: " + r.first
    try:
        plain.publish_mwi("100", 1)
    except L.LabError as e:
        assert " 405 " in str(e), e
    else:
        raise L.LabError("PUBLISH without PRESENCE was accepted")


def test_presence_subscription_expiry(lab):
    """An unrefreshed subscription ends within its expiry + 5 s (the
    config's expiry timer) with a NOTIFY "terminated;reason=timeout";
    its late refresh gets 481, as from a notifier that forgot it."""
    k = lab.kamailio("127.0.0.2", presence=True)
    k.publish_mwi("100", 4)
    with L.sip_socket(SUBSCRIBER) as s:
        inbox = []
        r, d = subscribe(s, "127.0.0.2", "100", expires=2, inbox=inbox)
        assert r.status == 200 and r.header("expires") == "2", r.raw
        assert_count(next_notify(s, inbox, d), "127.0.0.2", "100", 4)
        n = next_notify(s, inbox, d, timeout=10)
        assert n.header("subscription-state") == \
            "terminated;reason=timeout", n.raw
        r, _ = subscribe(s, "127.0.0.2", "100", dialog=d, inbox=inbox)
        assert r.status == 481, "refresh after expiry: " + r.first


test_presence_subscription_expiry.timeout = 40
