"""Presence follows the working server (issue 16), against kamailio's
presence and presence_xml on every lab server, baresip's own presence.so
and contact.so loaded.

Each server says something different of the contact sip:200 (server 1:
online, server 2: on the phone, i.e. busy, server 3: offline), so the
contact's presence in baresip's `contacts` says which server it came
from. On the wire: the presence SUBSCRIBEs and PUBLISHes baresip sent.
"""

import re
import time

import lab as L
from common import (SERVERS, USER, config, registered_on, start,
                    wait_status, wait_steady)

PEER = "200"
EXTRA = ["module contact.so", "module_app presence.so"]
PRESENCE = {ip: ["PRESENCE"] for ip in SERVERS}
SAYS = [("open", None), ("open", "on-the-phone"), ("closed", None)]
SHOWN = {1: "Online", 2: "Busy", 3: "Offline"}
# Bob is at the line's main server; Carol elsewhere (presence.so's)
CONTACTS = ('"Bob" <sip:%s@%s>;presence=p2p\n'
            '"Carol" <sip:300@127.0.0.9>;presence=p2p\n' % (PEER, SERVERS[0]))


def presence_lab(lab, mode, server_params="regint=60"):
    """The standard lab with presence servers, each saying its own of
    Bob; baresip with presence.so and Bob. Returns (baresip, kams)."""
    b, kams = start(lab, mode, extra=EXTRA, defines=PRESENCE,
                    contacts=CONTACTS, srvfailover=config(
                        mode, server_params=server_params))
    for i, ip in enumerate(SERVERS):
        kams[ip].publish_presence(PEER, *SAYS[i])
    return b, kams


def shown(b, user=PEER):
    """What baresip's contacts list shows of the contact, e.g. Online."""
    for line in b.command("contacts").splitlines():
        if "sip:%s@" % user in line:
            m = re.search(r"(Online|Offline|Busy|Unknown)", line)
            return m.group(1) if m else line
    return None


def wait_shown(b, prio, timeout=10):
    want = SHOWN[prio]
    last = [None]

    def check():
        last[0] = shown(b)
        return last[0] == want
    try:
        L.wait_for(check, timeout, "Bob %s (server %d's)" % (want, prio))
    except L.LabError as e:
        raise L.LabError("%s; shown: %s" % (e, last[0]))


def requests(lab, method, ip=None, since=0.0, event="presence"):
    return [m for m in L.requests(lab.wire(), method, src=L.PHONE, dst=ip)
            if m.t >= since and m.header("event").startswith(event)]


def subscribes(lab, ip=None, since=0.0, initial=None, unsub=None):
    """Presence SUBSCRIBEs baresip sent to ip (None: any lab server)."""
    out = []
    for m in requests(lab, "SUBSCRIBE", ip, since):
        if ip is None and m.dst not in SERVERS:
            continue
        first = ";tag=" not in m.header("to")
        zero = m.header("expires").strip() == "0"
        if (initial is None or first == initial) and \
                (unsub is None or zero == unsub):
            out.append(m)
    return out


def wait_request(lab, what, find, since, timeout=5):
    try:
        return lab.wire_until(find, timeout, what)[0]
    except L.LabError as e:
        raise L.LabError("%s; wire since then:\n%s" % (e, L.summary(
            [m for m in lab.wire() if m.t >= since])))


def switched(b, mode, prio, timeout):
    """The line works on server prio: when that was seen."""
    wait_status(b, "working server %d" % prio, registered_on(mode, prio),
                timeout)
    return time.time()


# --------------------------------------------------------------------------
# the contacts' presence


def follows_failover_and_failback(lab, mode):
    b, kams = presence_lab(lab, mode)
    wait_steady(b, mode)
    wait_shown(b, 1)
    time.sleep(1.5)   # what presence.so would send a second after start

    subs = subscribes(lab, initial=True)
    assert [m.dst for m in subs] == [SERVERS[0]], \
        "want one presence SUBSCRIBE, to %s; got:\n%s" % (
            SERVERS[0], L.summary(subs))
    assert subs[0].first.startswith("SUBSCRIBE sip:%s@%s" % (
        PEER, SERVERS[0])), subs[0].first
    assert "sip:%s@%s" % (USER, SERVERS[0]) in subs[0].header("from")

    t_kill = time.time()
    kams[SERVERS[0]].kill()
    seen = switched(b, mode, 2, 25)
    sub = wait_request(lab, "a presence SUBSCRIBE to server 2",
                       lambda m: subscribes(lab, SERVERS[1], t_kill,
                                            initial=True), t_kill)
    assert sub.t <= seen + 1.0, "SUBSCRIBE %.2fs after the switch" % (
        sub.t - seen)
    assert sub.first.startswith("SUBSCRIBE sip:%s@%s" % (
        PEER, SERVERS[1])), sub.first
    wait_shown(b, 2)

    kams[SERVERS[0]].restart()
    kams[SERVERS[0]].publish_presence(PEER, *SAYS[0])
    t_up = time.time()
    seen = switched(b, mode, 1, 30)
    sub1 = wait_request(lab, "a presence SUBSCRIBE to server 1",
                        lambda m: subscribes(lab, SERVERS[0], t_up,
                                             initial=True), t_up)
    assert sub1.t <= seen + 1.0, "SUBSCRIBE %.2fs after the switch" % (
        sub1.t - seen)
    wait_shown(b, 1)
    unsub = wait_request(lab, "an un-SUBSCRIBE to server 2",
                         lambda m: subscribes(lab, SERVERS[1], sub1.t,
                                              unsub=True), sub1.t)

    # after that, server 2 changes nothing, whatever it publishes
    kams[SERVERS[1]].publish_presence(PEER, "closed")
    time.sleep(1.5)
    assert shown(b) == "Online", shown(b)
    assert not subscribes(lab, SERVERS[2]), L.summary(
        subscribes(lab, SERVERS[2]))
    assert unsub.t >= sub1.t


def test_parallel_presence_follows_failover_and_failback(lab):
    follows_failover_and_failback(lab, "parallel")


def test_cisco_presence_follows_failover_and_failback(lab):
    follows_failover_and_failback(lab, "cisco")


def test_sequential_presence_follows_failover_and_failback(lab):
    follows_failover_and_failback(lab, "sequential")


def test_presence_contact_elsewhere_stays_with_presence_so(lab):
    """Carol is at no server of a line: presence.so subscribes to her
    host itself, as without the module; Bob is the module's, shown as
    before in the contacts list."""
    b, _ = presence_lab(lab, "cisco")
    wait_steady(b, "cisco")
    wait_shown(b, 1)
    wait_request(lab, "presence.so's SUBSCRIBE to Carol's host",
                 lambda m: requests(lab, "SUBSCRIBE", "127.0.0.9"), 0, 5)
    listing = b.command("contacts")
    assert "Bob <sip:%s@%s>" % (PEER, SERVERS[0]) in listing, listing
    assert "Carol <sip:300@127.0.0.9>" in listing, listing


def test_presence_quit_with_presence_so_waiting_for_an_answer(lab):
    """presence.so holds a user agent while its subscription to Carol
    (nobody answers at her host) is out, and lets it go while the
    module's next user agent says SHUTDOWN: baresip then never closed
    its SIP stack and never quit. It quits within the module's budget."""
    b, _ = presence_lab(lab, "parallel")
    wait_steady(b, "parallel")
    wait_request(lab, "presence.so's SUBSCRIBE to Carol's host",
                 lambda m: requests(lab, "SUBSCRIBE", "127.0.0.9"), 0, 5)
    t = time.time()
    b.ctrl.request("quit")
    L.wait_for(lambda: b.popen.poll() is not None, 5, "baresip to quit")
    assert time.time() - t < 2.5, "baresip took %.1fs to quit" % (
        time.time() - t)


# --------------------------------------------------------------------------
# the phone's own presence


def publishes(lab, ip=None, since=0.0, zero=None):
    out = []
    for m in requests(lab, "PUBLISH", ip, since):
        z = m.header("expires").strip() == "0"
        if zero is None or z == zero:
            out.append(m)
    return out


def own_presence(k):
    """The phone's presence (event presence of USER) at kamailio k."""
    return [p for p in k.presentities(USER) if p.get("event") == "presence"]


def published_through(prio, status):
    """check(): json says the phone's presence is published there."""
    return lambda line: line.get("presence") == {"prio": prio,
                                                 "status": status}


def offline_command():
    return "presence_offline" if L.baresip_version() == "1.0.0" \
        else "presence offline"


def test_cisco_presence_publish_follows_the_working_server(lab):
    """pubint on every server: published through server 1 alone; after a
    failover through server 2 within 1 s; back on server 1, server 2's
    publication removed (Expires: 0); presence offline publishes a
    closed document through the working server; never a PUBLISH to the
    standby server 3."""
    b, kams = presence_lab(lab, "cisco", "regint=60;pubint=60")
    wait_steady(b, "cisco")
    pub = wait_request(lab, "a PUBLISH to server 1",
                       lambda m: publishes(lab, SERVERS[0]), 0)
    assert "<basic>open</basic>" in pub.body, pub.body
    L.wait_for(lambda: own_presence(kams[SERVERS[0]]), 5,
               "the phone's presence at server 1")
    wait_status(b, "json: published through server 1",
                published_through(1, "Online"), 5)

    t_kill = time.time()
    kams[SERVERS[0]].kill()
    seen = switched(b, "cisco", 2, 25)
    pub2 = wait_request(lab, "a PUBLISH to server 2",
                        lambda m: publishes(lab, SERVERS[1], t_kill), t_kill)
    assert pub2.t <= seen + 1.0, "PUBLISH %.2fs after the switch" % (
        pub2.t - seen)
    L.wait_for(lambda: own_presence(kams[SERVERS[1]]), 5,
               "the phone's presence at server 2")
    wait_status(b, "json: published through server 2",
                published_through(2, "Online"), 5)

    kams[SERVERS[0]].restart()
    t_up = time.time()
    switched(b, "cisco", 1, 30)
    wait_request(lab, "a PUBLISH to server 1",
                 lambda m: publishes(lab, SERVERS[0], t_up), t_up)
    wait_request(lab, "a PUBLISH Expires: 0 to server 2",
                 lambda m: publishes(lab, SERVERS[1], t_up, zero=True),
                 t_up)
    L.wait_for(lambda: not own_presence(kams[SERVERS[1]]), 5,
               "server 2 to forget the phone's presence")

    t = time.time()
    b.command(offline_command())
    off = wait_request(lab, "a closed PUBLISH to server 1",
                       lambda m: [x for x in publishes(lab, SERVERS[0], t)
                                  if "<basic>closed</basic>" in x.body],
                       t)
    assert off.header("sip-if-match"), off.raw
    wait_status(b, "json: offline", published_through(1, "Offline"), 5)
    assert "presence: Offline (server 1)" in b.command("srvfailover status")
    assert not publishes(lab, SERVERS[2]), L.summary(
        publishes(lab, SERVERS[2]))

    t = time.time()
    b.ctrl.request("quit")
    L.wait_for(lambda: b.popen.poll() is not None, 5, "baresip to quit")
    assert time.time() - t < 2.5, "baresip took long to quit"
    assert publishes(lab, SERVERS[0], t, zero=True), L.summary(
        [m for m in lab.wire() if m.t >= t])


def test_presence_without_pubint_publishes_nothing(lab):
    """No pubint: nothing is published, through any server (presence.so
    would publish from none of the module's user agents either)."""
    b, _ = presence_lab(lab, "parallel")
    wait_steady(b, "parallel")
    wait_shown(b, 1)
    time.sleep(1)
    assert not publishes(lab), L.summary(publishes(lab))
    assert b.status()["lines"][0]["presence"] is None


def test_presence_dns_target_gone_does_not_end_presence_so(lab):
    """presence.so ends all its subscriptions on any user agent's
    SHUTDOWN. A DNS target that goes from DNS is dropped from the line;
    its user agent is kept (parked), so presence.so's subscription to
    Carol (at a presence server of no line) goes on."""
    import test_dns as D
    k5 = lab.kamailio("127.0.0.5", presence=True)
    k5.publish_presence("300", "open")
    dns = lab.dnsmasq(D.RECORDS)
    text = "<sip:101@%s;transport=udp>;regint=60\n" % D.FALLBACK + \
        D.srvfailover("cisco", D.NAME)
    b, _ = start(lab, srvfailover=text, extra=EXTRA + D.DNS_CONFIG,
                 servers=[D.PRI, D.SEC, D.FALLBACK],
                 contacts='"Carol" <sip:300@127.0.0.5>;presence=p2p\n')
    D.wait_uri_states(b, "primary registered",
                      {D.target(D.PRI): "Registered"}, 15)
    L.wait_for(lambda: shown(b, "300") == "Online", 10, "Carol online")

    dns.kill()
    t = time.time()
    lab.dnsmasq([r for r in D.RECORDS if "pri.pbx.test,5060" not in r])
    wait_status(b, "the primary target dropped",
                lambda l: [s["uri"] for s in l["servers"]] ==
                [D.target(D.SEC), "sip:" + D.FALLBACK], 15)
    time.sleep(1)
    assert not [m for m in requests(lab, "SUBSCRIBE", "127.0.0.5", t)
                if m.header("expires").strip() == "0"], \
        "presence.so un-SUBSCRIBEd Carol"
    assert not b.lines("presence: subscriber: closing"), \
        b.lines("presence: subscriber: closing")
    assert shown(b, "300") == "Online", shown(b, "300")
