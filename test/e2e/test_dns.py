"""DNS failover mode (SPEC "failover", Yealink "failover mode"): one
server given as a domain name that DNS resolves (SRV, else A/AAAA) to
several hosts, primary first.

dnsmasq on 127.0.0.53 (baresip: `dns_server 127.0.0.53:53`) serves
  _sip._udp.pbx.test SRV 10 0 5060 pri.pbx.test  -> A 127.0.0.2
                     SRV 20 0 5060 sec.pbx.test  -> A 127.0.0.3
and NXDOMAIN for any other .test name. The targets take the name's place
in the line with its priority: JSON shows them as two servers of prio 1
with "dns":"pbx.test", uri sip:127.0.0.2:5060 and sip:127.0.0.3:5060.
"""

import time

import lab as L
from common import (LINE_PARAMS, USER, describe, start, wait_status)

PRI, SEC, FALLBACK = "127.0.0.2", "127.0.0.3", "127.0.0.4"
NAME = "pbx.test"

RECORDS = [
    "--host-record=pri.pbx.test,%s" % PRI,
    "--host-record=sec.pbx.test,%s" % SEC,
    # --srv-host=_service._proto.name,target,port,priority[,weight]
    "--srv-host=_sip._udp.pbx.test,pri.pbx.test,5060,10",
    "--srv-host=_sip._udp.pbx.test,sec.pbx.test,5060,20",
]
DNS_CONFIG = ["dns_server %s:53" % L.DNS]


def srvfailover(mode, first, rest=(FALLBACK,)):
    """The line: first (a name or an address), then the addresses."""
    out = ["<sip:%s@%s;transport=udp>;regint=60;sfo_mode=%s;%s" % (
        USER, first, mode, LINE_PARAMS[mode])]
    out += ["<sip:%s@%s;transport=udp>;regint=60" % (USER, ip)
            for ip in rest]
    return "\n".join(out) + "\n"


def start_dns(lab, mode, first=NAME, rest=(FALLBACK,),
              servers=(PRI, SEC, FALLBACK)):
    dns = lab.dnsmasq(RECORDS)
    b, kams = start(lab, srvfailover=srvfailover(mode, first, rest),
                    extra=DNS_CONFIG, servers=list(servers))
    return b, kams, dns


def by_uri(line):
    return {s["uri"]: s for s in line["servers"]}


def uri_states(expect):
    """check(): {uri: state} of the line's servers (uris of targets are
    sip:host:port, of addresses sip:host)."""
    def check(line):
        got = by_uri(line)
        return all(u in got and got[u]["state"] == st
                   for u, st in expect.items())
    return check


def target(ip):
    return "sip:%s:5060" % ip


def wait_uri_states(b, what, expect, timeout):
    return wait_status(
        b, "%s (%s)" % (what, expect),
        lambda line: uri_states(expect)(line) and len(line["servers"]) == 3,
        timeout)


def registers_to(lab, ip, since):
    return [m for m in L.requests(lab.wire(), "REGISTER", src=L.PHONE,
                                  dst=ip)
            if m.t >= since and not m.is_unregister]


def bare_dial_goes_to(lab, b, ip):
    """dial 200: the INVITE (for the domain) goes to ip; hang up."""
    t = time.time()
    b.command("dial 200")
    est = b.ctrl.wait_event("CALL_ESTABLISHED", 10, since=t)
    inv = [m for m in L.requests(lab.wire(), "INVITE", src=L.PHONE)
           if m.t >= t]
    assert inv and inv[0].dst == ip, "dial 200 went to %s, not %s:\n%s" % (
        inv and inv[0].dst, ip, L.summary(inv))
    assert inv[0].ruri.startswith("sip:200@" + NAME), inv[0].ruri
    assert est.get("accountaor") == "sip:%s@%s" % (USER, NAME), est
    t = time.time()
    b.command("hangup")
    b.ctrl.wait_event("CALL_CLOSED", 5, since=t)


def test_dns_failover_mode_registers_primary_then_secondary(lab):
    b, kams, dns = start_dns(lab, "cisco")
    line = wait_uri_states(b, "primary registered, secondary and fallback "
                           "checked", {target(PRI): "Registered",
                                       target(SEC): "Reachable",
                                       "sip:" + FALLBACK: "Reachable"}, 15)
    # JSON: the name's targets in SRV order, prio 1, then the fallback
    got = [(s["prio"], s["uri"], s.get("dns")) for s in line["servers"]]
    assert got == [(1, target(PRI), NAME), (1, target(SEC), NAME),
                   (2, "sip:" + FALLBACK, None)], \
        "servers in JSON: %s" % got
    assert line["working"] == 1, describe({"lines": [line]})
    q = dns.queries()
    assert ("SRV", "_sip._udp." + NAME) in q and \
        ("A", "pri.pbx.test") in q and ("A", "sec.pbx.test") in q, \
        "DNS queries: %s" % q

    # the wire: REGISTER for the domain, sent to the primary's address
    reg, ok = L.registers_ok(lab.wire(), PRI, src=L.PHONE)[0]
    assert reg.ruri.startswith("sip:" + NAME), \
        "REGISTER Request-URI %s (want sip:%s)" % (reg.ruri, NAME)
    assert "sip:%s@%s" % (USER, NAME) in reg.header("to"), reg.header("to")
    L.wait_for(lambda: kams[PRI].contacts(USER), 5, "contact at " + PRI)
    settled = time.time()
    time.sleep(6)  # a few checks later (and a new lookup: TTL 0 -> 5 s)
    assert not registers_to(lab, SEC, 0), "REGISTER to %s:\n%s" % (
        SEC, L.summary(registers_to(lab, SEC, 0)))
    assert not registers_to(lab, FALLBACK, settled), \
        "REGISTER to %s:\n%s" % (FALLBACK, L.summary(
            registers_to(lab, FALLBACK, settled)))
    line = L.line_of(b.status(), USER)
    assert uri_states({target(PRI): "Registered"})(line), \
        describe({"lines": [line]})
    bare_dial_goes_to(lab, b, PRI)

    # primary dead: the secondary registers, not the fallback
    t = time.time()
    kams[PRI].kill()
    wait_uri_states(b, "secondary registered after kill -9 of the primary",
                    {target(PRI): "Unreachable", target(SEC): "Registered",
                     "sip:" + FALLBACK: "Reachable"}, 25)
    regs = registers_to(lab, SEC, t)
    assert regs and regs[0].ruri.startswith("sip:" + NAME), \
        "REGISTER to the secondary:\n%s" % L.summary(regs)
    L.wait_for(lambda: kams[SEC].contacts(USER), 5, "contact at " + SEC)
    assert not registers_to(lab, FALLBACK, settled), \
        "REGISTER to the fallback"
    print("secondary registered %.1fs after the kill" % (regs[0].t - t))
    bare_dial_goes_to(lab, b, SEC)

    # primary back: registered there again, the secondary unregistered
    t = time.time()
    kams[PRI].start()
    line = wait_uri_states(b, "primary registered again",
                           {target(PRI): "Registered",
                            target(SEC): "Reachable"}, 25)
    assert line["working"] == 1
    regs = registers_to(lab, PRI, t)
    assert regs, "no REGISTER to the primary after its restart"
    L.wait_for(lambda: kams[PRI].contacts(USER), 5, "contact at " + PRI)
    lab.wire_until(
        lambda m: [x for x in L.requests(m, "REGISTER", src=L.PHONE,
                                         dst=SEC)
                   if x.is_unregister and x.t >= t], 5,
        "un-REGISTER to the secondary")
    L.wait_for(lambda: not kams[SEC].contacts(USER), 5,
               "contact at %s removed" % SEC)
    assert not registers_to(lab, FALLBACK, settled), \
        "REGISTER to the fallback"
    print("primary registered again %.1fs after its restart" % (
        regs[0].t - t))


def registers_nothing_else_at_startup(lab, mode):
    """SPEC: always register with the primary first; a server the mode
    does not call for gets no REGISTER, at start-up neither. The name
    resolves within milliseconds: neither the secondary target nor the
    fallback server (prio 2) may be registered meanwhile."""
    b, kams, dns = start_dns(lab, mode)
    other = "Reachable" if mode == "cisco" else "Standby"
    wait_uri_states(b, "primary registered",
                    {target(PRI): "Registered", target(SEC): other,
                     "sip:" + FALLBACK: other}, 15)
    time.sleep(1)
    msgs = lab.wire()
    first = L.requests(msgs, "REGISTER", src=L.PHONE)
    assert first and first[0].dst == PRI, \
        "the first REGISTER went to %s, not the primary %s:\n%s" % (
            first and first[0].dst, PRI, L.summary(msgs[:20]))
    for ip in (SEC, FALLBACK):
        bad = L.requests(msgs, "REGISTER", src=L.PHONE, dst=ip)
        assert not bad, "start-up: %d REGISTER to %s (cisco mode, primary "\
            "%s fine):\n%s" % (len(bad), ip, PRI, L.summary(msgs[:20]))


def test_dns_failover_mode_registers_nothing_else_at_startup(lab):
    registers_nothing_else_at_startup(lab, "cisco")


def test_dns_failover_mode_in_sequential_registers_nothing_else_at_startup(
        lab):
    registers_nothing_else_at_startup(lab, "sequential")


def test_dns_failover_mode_in_parallel_registers_one_target(lab):
    """parallel: every server registers, but of the name's targets only
    one at a time: the primary, else the secondary."""
    b, kams, dns = start_dns(lab, "parallel")
    line = wait_status(b, "primary Registered*, fallback Registered",
                       lambda l: len(l["servers"]) == 3 and uri_states(
                           {target(PRI): "Registered*",
                            "sip:" + FALLBACK: "Registered"})(l), 15)
    time.sleep(3)
    line = L.line_of(b.status(), USER)
    print("parallel with a name: " + describe({"lines": [line]}))
    assert not by_uri(line)[target(SEC)]["state"].startswith("Registered"), \
        describe({"lines": [line]})
    assert not registers_to(lab, SEC, 0), "REGISTER to the secondary"
    assert not kams[SEC].contacts(USER)
    t = time.time()
    kams[PRI].kill()
    wait_status(b, "secondary Registered* after kill -9 of the primary",
                lambda l: uri_states({target(SEC): "Registered*",
                                      "sip:" + FALLBACK: "Registered"})(l)
                and l["working"] == 1, 25)
    L.wait_for(lambda: kams[SEC].contacts(USER), 5, "contact at " + SEC)
    kams[PRI].start()
    t = time.time()
    wait_status(b, "primary Registered* again",
                uri_states({target(PRI): "Registered*",
                            "sip:" + FALLBACK: "Registered"}), 25)
    lab.wire_until(
        lambda m: [x for x in L.requests(m, "REGISTER", src=L.PHONE,
                                         dst=SEC)
                   if x.is_unregister and x.t >= t], 5,
        "un-REGISTER to the secondary")
    line = L.line_of(b.status(), USER)
    assert not by_uri(line)[target(SEC)]["state"].startswith("Registered"), \
        describe({"lines": [line]})


def test_dns_failover_mode_falls_back_to_next_server_when_both_targets_fail(
        lab):
    b, kams, dns = start_dns(lab, "cisco")
    wait_uri_states(b, "primary registered",
                    {target(PRI): "Registered", target(SEC): "Reachable",
                     "sip:" + FALLBACK: "Reachable"}, 15)
    t = time.time()
    kams[PRI].kill()
    kams[SEC].kill()
    line = wait_status(b, "the fallback (prio 2) registered",
                       lambda l: l["working"] == 2 and uri_states(
                           {"sip:" + FALLBACK: "Registered"})(l), 25)
    print("fallback after %.1fs: %s" % (time.time() - t,
                                        describe({"lines": [line]})))
    assert registers_to(lab, FALLBACK, t), "no REGISTER to the fallback"
    kams[SEC].start()
    wait_status(b, "the secondary registered when it is back",
                lambda l: l["working"] == 1 and uri_states(
                    {target(SEC): "Registered"})(l), 25)
    L.wait_for(lambda: kams[SEC].contacts(USER), 5, "contact at " + SEC)


def test_dns_name_that_does_not_resolve_is_unreachable(lab):
    b, kams, dns = start_dns(lab, "cisco", first="nowhere.test",
                             rest=(SEC,), servers=(SEC,))
    line = wait_status(b, "server 2 registered, the name Unreachable",
                       lambda l: l["working"] == 2 and uri_states(
                           {"sip:" + SEC: "Registered"})(l) and
                       l["servers"][0]["state"] == "Unreachable", 15)
    s1 = line["servers"][0]
    print("unresolved: %s" % s1)
    assert s1["prio"] == 1 and s1.get("dns") == "nowhere.test", s1
    assert s1["last_text"].startswith("DNS:"), \
        "last_text %r does not start with 'DNS:'" % s1["last_text"]
    q = dns.queries()
    assert ("SRV", "_sip._udp.nowhere.test") in q and \
        ("A", "nowhere.test") in q, "DNS queries: %s" % q
    L.wait_for(lambda: kams[SEC].contacts(USER), 5, "contact at " + SEC)
    time.sleep(3)
    others = [m for m in L.requests(lab.wire(), src=L.PHONE)
              if m.dst != SEC]
    assert not others, "requests to other hosts:\n" + L.summary(others)
    assert b.lines("DNS:"), "the DNS failure is not reported"


def test_dns_target_gone_from_dns_is_dropped_and_line_goes_on(lab):
    """The name's answer changes (the primary's SRV record goes away):
    the primary target is unregistered and dropped, the line registers
    on the remaining target, and keeps working after that."""
    b, kams, dns = start_dns(lab, "cisco")
    wait_uri_states(b, "primary registered",
                    {target(PRI): "Registered", target(SEC): "Reachable",
                     "sip:" + FALLBACK: "Reachable"}, 15)
    dns.kill()
    t = time.time()
    lab.dnsmasq([r for r in RECORDS if "pri.pbx.test,5060" not in r])
    # TTL 0: the module asks again within 5 s
    line = wait_status(b, "the primary target dropped, the secondary "
                       "registered",
                       lambda l: [s["uri"] for s in l["servers"]] ==
                       [target(SEC), "sip:" + FALLBACK] and
                       uri_states({target(SEC): "Registered"})(l), 15)
    print("after the change (%.1fs): %s" % (time.time() - t,
                                            describe({"lines": [line]})))
    lab.wire_until(
        lambda m: [x for x in L.requests(m, "REGISTER", src=L.PHONE,
                                         dst=PRI)
                   if x.is_unregister and x.t >= t], 5,
        "un-REGISTER to the dropped primary")
    L.wait_for(lambda: kams[SEC].contacts(USER), 5, "contact at " + SEC)
    # the module still acts: the secondary dies, the fallback takes over
    kams[SEC].kill()
    wait_status(b, "the fallback registered after the secondary died",
                lambda l: l["working"] == 2 and uri_states(
                    {"sip:" + FALLBACK: "Registered"})(l), 20)
