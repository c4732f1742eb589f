"""contact.so's message and dialcontact through the line's working server
(issue 16): a MESSAGE goes through the working server, the contact's URI
rewritten when it names one of the line's servers, and once more through
the next server after a transport error, an ICMP error or a failover
code (never after no answer); dialcontact is routed like dial.
"""

import time

import lab as L
from common import (SERVERS, USER, config, registered_on, start,
                    wait_status, wait_steady)

CONTACT = "sip:200@%s" % SERVERS[0]      # the PBX's user 200
CONTACTS = '"Bob" <%s>\n' % CONTACT
EXTRA = ["module contact.so"]


def messages(lab, ip=None, since=0.0):
    return [m for m in L.requests(lab.wire(), "MESSAGE", src=L.PHONE,
                                  dst=ip) if m.t >= since]


def wait_message(lab, ip, since, timeout=3):
    try:
        return lab.wire_until(lambda m: messages(lab, ip, since), timeout,
                              "a MESSAGE to %s" % ip)[0]
    except L.LabError as e:
        raise L.LabError("%s; wire since then:\n%s" % (e, L.summary(
            [m for m in lab.wire() if m.t >= since])))


def test_cisco_message_goes_through_working_server_after_failover(lab):
    b, kams = start(lab, "cisco", extra=EXTRA, contacts=CONTACTS)
    wait_steady(b, "cisco")

    t = time.time()
    b.command("message hello one")
    m1 = wait_message(lab, SERVERS[0], t)
    assert m1.ruri == CONTACT, m1.first
    assert "hello one" in m1.body, m1.body

    kams[SERVERS[0]].kill()
    wait_status(b, "working server 2", registered_on("cisco", 2), 25)
    t = time.time()
    b.command("message hello two")
    m2 = wait_message(lab, SERVERS[1], t)
    # the contact names server 1: the same user at server 2
    assert m2.ruri == "sip:200@%s" % SERVERS[1], m2.first
    assert "sip:%s@%s" % (USER, SERVERS[1]) in m2.header("from"), \
        m2.header("from")
    time.sleep(1)
    assert not messages(lab, SERVERS[0], t), "a MESSAGE to the dead server"


def unwatched(lab):
    """A cisco line whose servers are not checked (every 10 minutes): a
    server's death is found by the MESSAGE that meets it."""
    text = config("cisco", line_params="sfo_probe_interval=600;"
                  "sfo_failback=immediate")
    b, kams = start(lab, srvfailover=text, extra=EXTRA, contacts=CONTACTS)
    wait_steady(b, "cisco")
    return b, kams


def test_cisco_message_fails_over_once_on_icmp(lab):
    """The module has not noticed server 1's death (no OPTIONS checks):
    the MESSAGE's ICMP error sends it through server 2 at once."""
    b, kams = unwatched(lab)

    kams[SERVERS[0]].kill()
    t = time.time()
    b.command("message are you there")
    first = wait_message(lab, SERVERS[0], t)
    second = wait_message(lab, SERVERS[1], t)
    assert second.t - first.t < 1.0, \
        "sent again %.2fs after the first" % (second.t - first.t)
    assert second.ruri == "sip:200@%s" % SERVERS[1], second.first
    time.sleep(2)
    sent = messages(lab, since=t)
    firsts = {m.header("call-id") for m in sent}
    assert len(firsts) == 2, "want 2 MESSAGEs (first and again), " \
        "got:\n%s" % L.summary(sent)
    assert not messages(lab, SERVERS[2], t), "sent a third time"


def test_cisco_message_not_sent_again_after_no_answer(lab):
    """A server that says nothing may have taken the MESSAGE: it is not
    sent again through another (a hung server: no ICMP either)."""
    b, kams = unwatched(lab)

    kams[SERVERS[0]].stop()
    t = time.time()
    b.command("message hello")
    wait_message(lab, SERVERS[0], t)
    time.sleep(5)
    assert not messages(lab, SERVERS[1], t), L.summary(messages(lab))


def test_cisco_dialcontact_is_routed_and_failed_over_like_dial(lab):
    b, _ = start(lab, "cisco", extra=EXTRA, contacts=CONTACTS,
                 defines={SERVERS[0]: ["INVITE_503"]})
    wait_steady(b, "cisco")

    t = time.time()
    b.command("dialcontact")
    invites = lab.wire_until(
        lambda m: [x for x in L.requests(m, "INVITE", src=L.PHONE,
                                         dst=SERVERS[1]) if x.t >= t],
        10, "the INVITE again through server 2")
    assert invites[0].ruri.startswith("sip:200@%s" % SERVERS[1]), \
        invites[0].first
    wait_status(b, "a call", lambda l: any(
        s.get("calls") for s in l["servers"]), 10)
