"""Real deployments (issue 12), each in a realistic lab: digest auth on
every server, a server that sends 100 Trying before its 407, a wrong
password and a 403, TLS servers with a self-signed certificate, two lines
sharing servers, libre's own refreshes to a killed server, a short
outage, a registrar granting an absurd expiry, quitting after failovers,
and a phone that boots before it can reach its servers.

Every check is on the wire (tcpdump), at the registrar (kamailio's
ul.dump) or in `srvfailover json`. The lab's password (common.PW) is never
put in a failure message."""

import json
import re
import subprocess
import time

import lab as L
from common import (LINE_PARAMS, PW, SERVERS, USER, WRONG_PW, config,
                    describe, lines_config, registered_on, start,
                    wait_status, wait_steady)

S1, S2, S3 = SERVERS
CISCO = LINE_PARAMS["cisco"] + ";sfo_mode=cisco"
# INVITE tests: no OPTIONS check finds a failure before the INVITE does
QUIET = ("sfo_mode=cisco;sfo_probe_interval=600;sfo_failback=immediate;"
         "sfo_retry_base=2;sfo_retry_max=8")
AUTH = "regint=60;auth_pass=" + PW


def server_of(line, prio):
    return next((s for s in line["servers"] if s.get("prio") == prio), {})


def sample(seconds, probe, interval=1.0):
    """Call probe(i) every interval seconds for that long."""
    t0 = time.monotonic()
    i = 0
    while True:
        probe(i)
        i += 1
        nxt = t0 + i * interval
        if nxt - t0 > seconds:
            return i
        time.sleep(max(0.0, nxt - time.monotonic()))


def transactions(msgs, dst, method="REGISTER", since=0.0, unregister=None):
    """The first send of each transaction (Call-ID, CSeq) of baresip's
    requests to dst since then, in time order (retransmissions left
    out). unregister: None = all, False = REGISTERs only, True = un-."""
    out, seen = [], set()
    for m in L.requests(msgs, method, dst=dst):
        if m.t < since or m.src in SERVERS:
            continue
        if unregister is not None and m.is_unregister != unregister:
            continue
        if (m.call_id, m.cseq) not in seen:
            seen.add((m.call_id, m.cseq))
            out.append(m)
    return out


def bursts(reqs, gap=1.0):
    """Requests grouped into attempts: a new attempt starts after gap
    seconds without a new transaction."""
    out = []
    for m in reqs:
        if out and m.t - out[-1][-1].t < gap:
            out[-1].append(m)
        else:
            out.append([m])
    return out


def wait_call(lab, b, t, timeout, what):
    """CALL_ESTABLISHED since t, or a failure naming what the wire and
    the events show."""
    try:
        return b.ctrl.wait_event("CALL_ESTABLISHED", timeout, since=t)
    except L.LabError:
        closed = [(e.get("accountaor"), e.get("param"))
                  for e in b.ctrl.events_of("CALL_CLOSED", since=t)]
        inv = transactions(lab.wire(), None, "INVITE", since=t)
        raise L.LabError(
            "%s: no call established within %gs; calls closed: %s; "
            "INVITE transactions: %s\n%s" % (
                what, timeout, closed,
                ["%s%s" % (m.dst, " (auth)" if m.header(
                    "proxy-authorization") else "") for m in inv],
                L.summary([m for m in lab.wire() if m.t >= t and
                           (m.cseq_method or m.method) == "INVITE"])))


# --------------------------------------------------------------------------
# 1. two lines on the same servers


def test_two_lines_same_servers_no_false_failover(lab):
    """Lines 100 (regint 60) and 101 (regint 20) on the same three
    servers, cisco mode, digest auth. For 70 s, sampled every second:
    neither line leaves server 1 (working 1, server 1 Registered, no
    failover), kamailio on server 1 holds both contacts, and nothing is
    registered with or un-registered from anywhere else: line 101's
    refreshes (every ~10 s) are never taken for line 100's."""
    text = lines_config([("100", "regint=60;auth_pass=" + PW, CISCO),
                         ("101", "regint=20;auth_pass=" + PW, CISCO)])
    b, kams = start(lab, srvfailover=text, auth=PW)
    for user in ("100", "101"):
        wait_steady(b, "cisco", user=user)
    L.wait_for(lambda: {c["aor"].split("@")[0]
                        for c in kams[S1].contacts()} >= {"100", "101"},
               10, "contacts of 100 and 101 at " + S1)
    t0 = time.time()
    bad = []

    def probe(i):
        st = b.status()
        held = {c["aor"].split("@")[0] for c in kams[S1].contacts()}
        for user in ("100", "101"):
            line = L.line_of(st, user)
            s1 = server_of(line, 1)
            why = []
            if line.get("working") != 1:
                why.append("working %s" % line.get("working"))
            if s1.get("state") != "Registered":
                why.append("server 1 %s (%s %s)" % (
                    s1.get("state"), s1.get("last_code"),
                    s1.get("last_text")))
            if line.get("failovers"):
                why.append("%d failovers (%s)" % (line.get("failovers"),
                                                  line.get("last_switch")))
            if user not in held:
                why.append("no contact of %s at %s" % (user, S1))
            if why:
                bad.append("+%.0fs line %s: %s" % (time.time() - t0, user,
                                                   ", ".join(why)))

    sample(70, probe)
    msgs = lab.wire()
    refresh = {u: len([m for m in transactions(msgs, S1, since=t0,
                                               unregister=False)
                       if "<sip:%s@" % u in m.header("from")])
               for u in ("100", "101")}
    print("refresh REGISTER transactions to %s in 70 s: %s" % (S1, refresh))
    elsewhere = [m for ip in (S2, S3) for m in
                 transactions(msgs, ip, since=t0)]
    unreg = transactions(msgs, S1, since=t0, unregister=True)
    assert not bad, "%d of 140 samples wrong, first: %s" % (
        len(bad), "; ".join(bad[:3]))
    assert not elsewhere and not unreg, \
        "lines moved: REGISTERs to %s/%s: %d, un-REGISTERs to %s: %d\n%s" \
        % (S2, S3, len(elsewhere), S1, len(unreg),
           L.summary(sorted(elsewhere + unreg, key=lambda m: m.t)))
    # libre refreshes at 90 % of the expiry: every 18 s for regint 20
    assert refresh["101"] >= 3, \
        "only %d refreshes of line 101 in 70 s (regint 20)" % refresh["101"]


# --------------------------------------------------------------------------
# 2. 100 Trying before the 407


def invite_sequence(lab, t):
    inv = transactions(lab.wire(), None, "INVITE", since=t)
    return [(m.dst, bool(m.header("proxy-authorization"))) for m in inv], inv


def dial_after_407(lab, then, timeout, what, **kw):
    """Cisco, digest auth everywhere; server 1 answers an INVITE with 100
    Trying and 407, and the authenticated one as `then` (a kamailio
    define). Dials 200 and waits for the call: (baresip, the established
    event, the time of the dial, invite_sequence())."""
    text = config(line_params=QUIET, server_params=AUTH)
    b, kams = start(lab, srvfailover=text, auth=PW,
                    defines={S1: ["TRYING_407", then]}, **kw)
    wait_steady(b, "cisco")
    t = time.time()
    b.command("dial 200")
    est = wait_call(lab, b, t, timeout, what)
    return (b, est, t) + invite_sequence(lab, t)


def test_trying_before_407_then_503_fails_over(lab):
    """Server 1 answers an INVITE with 100 Trying and 407 (FreeSWITCH),
    and the authenticated INVITE (a new transaction) with 503: the call is
    placed again through server 2 (challenged too) and connects there;
    twinkle, another SIP client, answers it."""
    b, est, t, seq, inv = dial_after_407(
        lab, "INVITE_503", 10, "100+407 then 503 on server 1",
        uas="twinkle")
    assert seq == [(S1, False), (S1, True), (S2, False), (S2, True)], \
        "INVITE transactions (server, authenticated): %s" % seq
    r = L.final_response(lab.wire(), inv[1])
    assert r and r.status == 503, "server 1's answer to the " \
        "authenticated INVITE: %r" % r
    assert inv[2].t - r.t < 1.0, "%.2fs from the 503 to the INVITE to " \
        "%s" % (inv[2].t - r.t, S2)
    assert est.get("accountaor") == "sip:%s@%s" % (USER, S2), est
    tw = [p for p in lab.procs if isinstance(p, L.Twinkle)][0]
    assert tw.calls() == (1, 1), "twinkle (incoming, established): %s" % (
        tw.calls(),)
    b.command("hangup")


def test_trying_before_407_then_silence_fails_over_within_budget(lab):
    """Server 1 answers an INVITE with 100 Trying and 407, then never
    answers the authenticated INVITE: that INVITE gets its own budget
    (3 retransmissions, 3.5 s) and the call goes through server 2, not
    after libre's 32 s (the 100 belonged to the first transaction)."""
    b, est, t, seq, inv = dial_after_407(
        lab, "INVITE_DROP_AUTHED", 9, "100+407 then silence on server 1")
    assert seq[:3] == [(S1, False), (S1, True), (S2, False)], \
        "INVITE transactions (server, authenticated): %s" % seq
    gap = inv[2].t - inv[1].t
    print("INVITE to %s %.2fs after the authenticated INVITE to %s; "
          "established %.2fs after the dial" % (S2, gap, S1,
                                                est["t"] - t))
    assert 3.0 <= gap < 4.5, "%.2fs from the authenticated INVITE to %s " \
        "to the INVITE to %s; budget 3.5 s" % (gap, S1, S2)
    assert est.get("accountaor") == "sip:%s@%s" % (USER, S2), est
    b.command("hangup")


# --------------------------------------------------------------------------
# 3. a server refusing the credentials


def refused_credentials(lab, code, text, defines=(), pw=PW):
    """Cisco, three servers with digest auth; server 1 refuses the phone's
    credentials (code). Server 1 must stay `Registration failed` with
    that code while server 2 carries the line, be tried again on the
    back-off, and get at most two REGISTERs per attempt."""
    b, kams = start(lab, srvfailover=config("cisco", server_params=AUTH),
                    auth={S1: pw, S2: PW, S3: PW},
                    defines={S1: list(defines)})
    wait_status(b, "line on server 2", registered_on("cisco", 2), 20)
    t0 = time.time()
    seen, bad = {}, []

    def probe(i):
        st = b.status()
        line = L.line_of(st, USER)
        s1 = server_of(line, 1)
        state = s1.get("state")
        seen[state] = seen.get(state, 0) + 1
        why = []
        if line.get("working") != 2:
            why.append("working %s" % line.get("working"))
        if state == "Registration failed":
            if s1.get("last_code") != code:
                why.append("server 1 last_code %s %r" % (
                    s1.get("last_code"), s1.get("last_text")))
        elif state != "Registering":  # a re-try in flight
            why.append("server 1 %s (%s %s)" % (state, s1.get("last_code"),
                                                s1.get("last_text")))
        if why:
            bad.append("+%.0fs %s" % (time.time() - t0, ", ".join(why)))

    n = sample(32, probe)
    s1 = server_of(L.line_of(b.status(), USER), 1)
    msgs = lab.wire()
    attempts = bursts(transactions(msgs, S1, unregister=False))
    sizes = [len(a) for a in attempts]
    gaps = [round(b_[0].t - a[0].t, 1) for a, b_ in
            zip(attempts, attempts[1:])]
    print("server 1 states over %d samples: %s; REGISTER attempts to %s: "
          "%s transactions each, gaps %s" % (n, seen, S1, sizes, gaps))
    assert not bad, "%d of %d samples wrong (%s), first: %s" % (
        len(bad), n, seen, "; ".join(bad[:5]))
    assert seen.get("Registration failed", 0) >= 0.9 * n, \
        "server 1 states: %s" % seen
    assert text.lower() in s1.get("last_text", "").lower(), \
        "server 1's last_text %r does not say %r" % (s1.get("last_text"),
                                                     text)
    assert max(sizes) <= 2, "REGISTER transactions to %s per attempt: %s " \
        "(at most 2: one challenge, one answer)" % (S1, sizes)
    assert len(attempts) >= 2 and min(gaps) >= 0.9, \
        "attempts to %s not spaced by the back-off: gaps %s" % (S1, gaps)
    # back-off base 2 s, max 8 s, waits of 50..100 %: 1+2+4+4+... s
    assert len(attempts) <= 12, "%d attempts on %s in %.0f s (gaps %s)" % (
        len(attempts), S1, time.time() - lab.t_start, gaps)
    L.wait_for(lambda: kams[S2].contacts(USER), 5, "contact at " + S2)


def test_cisco_wrong_password_stays_registration_failed(lab):
    """Server 1 expects another password: 401 again to the authenticated
    REGISTER."""
    refused_credentials(lab, 401, "Unauthorized", pw=WRONG_PW)


def test_cisco_403_stays_registration_failed(lab):
    """Server 1 answers every REGISTER 403 Forbidden."""
    refused_credentials(lab, 403, "Forbidden", defines=["FORBIDDEN"])


def test_cisco_wrong_password_403_stays_registration_failed(lab):
    """Server 1 expects another password and answers wrong credentials
    with 403 (after its 401 challenge)."""
    refused_credentials(lab, 403, "Forbidden", pw=WRONG_PW,
                        defines=["AUTH_REJECT_403"])


# --------------------------------------------------------------------------
# 4. ICMP for libre's own refresh REGISTER


def test_icmp_for_libre_refresh_register(lab):
    """sfo_keepalive=register, regint 10, UDP: server 1 is killed just
    before libre's own refresh REGISTER; the ICMP port unreachable that
    the refresh draws moves the line to server 2 well under a second
    after the refresh, not after the 3.5 s budget."""
    text = config(server_params="regint=10;auth_pass=" + PW,
                  line_params=QUIET + ";sfo_keepalive=register")
    b, kams = start(lab, srvfailover=text, auth=PW)
    wait_steady(b, "cisco")

    def refreshes():
        return [q for q, _ in L.registers_ok(lab.wire(), S1, src=L.PHONE)]
    L.wait_for(lambda: len(refreshes()) >= 3, 25, "two refreshes to " + S1)
    for _ in range(3):
        r = refreshes()
        period = r[-1].t - r[-2].t
        due = r[-1].t + period
        time.sleep(max(0.0, due - 0.8 - time.time()))
        t_kill = time.time()
        kams[S1].kill()
        if not [q for q in transactions(lab.wire(), S1)
                if r[-1].t < q.t < t_kill]:
            break
        kams[S1].start()  # the refresh came early: again
        wait_status(b, "back on 1", registered_on("cisco", 1), 20)
        L.wait_for(lambda: len(refreshes()) >= len(r) + 2, 25,
                   "two more refreshes")
    wait_status(b, "working 2", registered_on("cisco", 2), 15)
    msgs = lab.wire()
    ref = [m for m in L.requests(msgs, "REGISTER", src=L.PHONE, dst=S1)
           if m.t >= t_kill]
    to2 = transactions(msgs, S2, since=t_kill, unregister=False)
    assert ref and to2, "after the kill:\n" + L.summary(
        [m for m in msgs if m.t >= t_kill])
    other = [m for m in L.requests(msgs, src=L.PHONE, dst=S1)
             if t_kill <= m.t < ref[0].t and m.method != "REGISTER"]
    delay = to2[0].t - ref[0].t
    print("refresh to %s %.2fs after the kill (period %.1fs), REGISTER to "
          "%s %.3fs after it" % (S1, ref[0].t - t_kill, period, S2, delay))
    assert not other, "requests to %s before the refresh: %s" % (
        S1, L.summary(other))
    assert delay < 1.0, "%.2fs from libre's refresh REGISTER to %s " \
        "(ICMP port unreachable at once) to the REGISTER to %s" % (
            delay, S1, S2)


# --------------------------------------------------------------------------
# 5. TLS


TLS_SERVERS = "\n".join(
    "<sip:100@%s;transport=tls>;regint=60;auth_pass=%s%s" % (
        ip, PW, ";" + CISCO if i == 0 else "")
    for i, ip in enumerate(SERVERS)) + "\n"


def test_tls_server_without_port_recognised_in_dial(lab):
    """TLS servers given without a port (so on 5061): registered over TLS
    with the lab's self-signed certificate; `/dial 200@SERVER2:5061` names
    server 2 and goes through its own account."""
    b, kams = start(lab, srvfailover=TLS_SERVERS, auth=PW, tls=True)
    wait_steady(b, "cisco")
    c = L.wait_for(lambda: kams[S1].contacts(USER), 5, "contact at " + S1)
    assert "transport=tls" in c[0]["contact"], c
    t = time.time()
    b.command("dial 200@%s:5061" % S2)
    est = wait_call(lab, b, t, 10, "dial 200@%s:5061" % S2)
    assert est.get("accountaor") == "sip:%s@%s" % (USER, S2), \
        "dial 200@%s:5061 went through %s, not server 2's account" % (
            S2, est.get("accountaor"))
    b.command("hangup")
    st = b.status()
    assert L.working(st, USER) == 1, describe(st)


def test_tls_duplicate_with_and_without_port_refused(lab):
    """<sip:100@S1;transport=tls> and <sip:100@S1:5061;transport=tls> are
    the same server: the second is a duplicate, reported with file and
    line, and the line is not started."""
    text = ("<sip:100@%s;transport=tls>;regint=60;sfo_mode=cisco\n"
            "<sip:100@%s:5061;transport=tls>;regint=60\n" % (S1, S1))
    b = lab.baresip(lab.module, srvfailover=text)
    L.wait_for(lambda: b.lines("baresip is ready."), 5, "baresip ready")
    time.sleep(0.5)
    errs = b.lines("srvfailover: %s:2:" % b.srvfailover_file)
    assert any("duplicate" in e for e in errs), \
        "no duplicate reported for line 2; srvfailover lines:\n%s" % \
        "\n".join(b.lines("srvfailover:"))
    st = b.status()
    assert not L.line_of(st, USER), "line 100 started: %s" % describe(st)


# --------------------------------------------------------------------------
# 6. a short outage


def new_client_over_unregister(msgs, dst, since):
    """REGISTERs of a new register client (a Call-ID not used before)
    sent to dst after `since` while an un-REGISTER to dst sent after
    `since` was still unanswered, as [(un-REGISTER, REGISTER)]: the
    registrar may handle the un-REGISTER last and drop the binding."""
    out, seen = [], set()
    regs = L.requests(msgs, "REGISTER", src=L.PHONE, dst=dst)
    for m in regs:
        new = m.call_id not in seen
        seen.add(m.call_id)
        if m.is_unregister or not new or m.t < since:
            continue
        for u in regs:
            if u.is_unregister and since <= u.t < m.t:
                r = L.final_response(msgs, u)
                if not r or r.t > m.t:
                    out.append((u, m))
    return out


def test_short_outage_registered_means_binding_held(lab):
    """Server 1 killed and started again within ~10 s, after the module
    gave it up and registered with server 2. Once the line is back on
    server 1, for 60 s every second: whenever the JSON says server 1 is
    Registered, kamailio on server 1 holds user 100's contact (libre's
    late un-REGISTER retransmissions must not delete the new binding).
    On the wire: when the module registers again, the registration it
    replaces is withdrawn and answered before the new REGISTER goes (a
    race a registrar with several workers may lose either way)."""
    text = config("cisco", server_params="regint=600;auth_pass=" + PW)
    b, kams = start(lab, srvfailover=text, auth=PW)
    wait_steady(b, "cisco")
    L.wait_for(lambda: kams[S1].contacts(USER), 5, "contact at " + S1)
    t_kill = time.time()
    kams[S1].kill()
    wait_status(b, "working 2", registered_on("cisco", 2), 15)
    time.sleep(max(0.0, t_kill + 6 - time.time()))
    kams[S1].start()
    print("server 1 down %.1fs" % (time.time() - t_kill))
    # (a module may wait for what libre still sends to server 1: 32 s)
    wait_status(b, "back on 1", registered_on("cisco", 1), 40)
    t0 = time.time()
    bad, n_reg = [], [0]

    def registered():
        return server_of(L.line_of(b.status(), USER), 1).get("state") in \
            ("Registered", "Registered*")

    def probe(i):
        before = registered()
        held = kams[S1].contacts(USER)
        if before and registered():
            n_reg[0] += 1
            if not held:
                bad.append(time.time() - t0)

    n = sample(60, probe)
    unreg = [m for m in L.requests(lab.wire(), "REGISTER", src=L.PHONE,
                                   dst=S1) if m.is_unregister and m.t >= t0]
    print("server 1 Registered in %d of %d samples; un-REGISTERs to %s "
          "after the fail-back: %d" % (n_reg[0], n, S1, len(unreg)))
    assert n_reg[0] >= n // 2, "server 1 Registered in only %d of %d " \
        "samples: %s" % (n_reg[0], n, describe(b.status()))
    assert not bad, "server 1 Registered in the JSON but no contact of %s " \
        "at %s in %d of %d samples (from +%.0fs after the fail-back); " \
        "un-REGISTERs reaching %s after it:\n%s" % (
            USER, S1, len(bad), n_reg[0], bad[0], S1, L.summary(unreg))
    race = new_client_over_unregister(lab.wire(), S1, t0)
    assert not race, "a new REGISTER to %s sent while an un-REGISTER " \
        "was unanswered:\n%s" % (S1, L.summary([m for p in race
                                                for m in p]))


test_short_outage_registered_means_binding_held.timeout = 180


# --------------------------------------------------------------------------
# 7. a registrar granting an absurd expiry


def absurd_expiry(lab, expires):
    """Server 1 is a registrar answering REGISTER 200 OK with the Contact
    ;expires=EXPIRES. Over 20 s from its first 200, baresip sends server 1
    no more REGISTER transactions than back-off steps (base 2 s, max 8 s,
    waits of 50..100 %: at most 8, counted on the wire); an un-REGISTER
    that withdraws a binding it was granted is allowed beside each (one
    per REGISTER at most). Server 1's last_text in the JSON says what the
    registrar granted: the word "expires" and the number."""
    lab.capture()
    lab.registrar_expires(S1, expires)
    for ip in (S2, S3):
        lab.kamailio(ip)
    lab.uas()
    lab.t_start = time.time()
    b = lab.baresip(lab.module, srvfailover=config("cisco"))
    first = lab.wire_until(lambda m: L.registers_ok(m, S1, src=L.PHONE), 10,
                           "a REGISTER to %s answered 200" % S1)[0][1].t
    count, unreg, waited = 0, 0, 0.0
    while waited < 20:
        time.sleep(2)
        waited = time.time() - first
        msgs = lab.wire()
        count = len(transactions(msgs, S1, since=first, unregister=False))
        unreg = len(transactions(msgs, S1, since=first, unregister=True))
        if count > 40:  # a storm: no need to wait any longer
            break
    st = b.status()
    s1 = server_of(L.line_of(st, USER), 1)
    print("%d REGISTER and %d un-REGISTER transactions to %s in %.1f s "
          "after the first 200 (expires=%d); server 1: %s %s %r" % (
              count, unreg, S1, waited, expires, s1.get("state"),
              s1.get("last_code"), s1.get("last_text")))
    assert count <= 8, "%d REGISTER transactions to %s in %.1f s after " \
        "its 200 OK granting expires=%d (%.0f a second); server 1 %s" % (
            count, S1, waited, expires, count / waited, s1.get("state"))
    assert unreg <= count + 1, "%d un-REGISTERs for %d REGISTERs to %s " \
        "in %.1f s" % (unreg, count, S1, waited)
    text = s1.get("last_text", "")
    assert "expires" in text.lower() and re.search(
        r"(?<!\d)%d(?!\d)" % expires, text), \
        "server 1's last_text %r does not say what the registrar granted " \
        "(expires=%d)" % (text, expires)
    return s1, st


def test_registrar_grants_expires_0(lab):
    """expires=0: the registrar holds no binding; server 1 is not shown
    Registered."""
    s1, st = absurd_expiry(lab, 0)
    assert s1.get("state") not in ("Registered", "Registered*"), \
        "server 1 %s although its registrar granted expires=0: %s" % (
            s1.get("state"), describe(st))


def test_registrar_grants_expires_2_32(lab):
    """expires=4294967296: libre reads it in 32 bits, as 0 (no binding,
    a REGISTER again at once): the module reads it as libre does."""
    absurd_expiry(lab, 4294967296)


def longer_grant(lab, expires, remade=False):
    """Server 1 grants EXPIRES (far more than regint=60): the phone keeps
    the registration and refreshes it itself at half the regint (libre
    would wait 90 % of the grant, past 2^32 ms even wrapping): over 40 s
    from the first 200, server 1 registered and working throughout, and
    one refresh REGISTER at 30 s (at most one un-REGISTER beside it: the
    old register client lets go), not a storm. remade: the grant wraps
    libre's wait to a loop; server 1's user agent is made anew with
    another rwait at once (an un-REGISTER and a REGISTER within 2 s of
    the first 200, the log says so), and counted from its 200 on."""
    lab.capture()
    lab.registrar_expires(S1, expires)
    for ip in (S2, S3):
        lab.kamailio(ip)
    lab.uas()
    b = lab.baresip(lab.module, srvfailover=config("cisco"))
    oks = lab.wire_until(lambda m: L.registers_ok(m, S1, src=L.PHONE), 10,
                         "a REGISTER to %s answered 200" % S1)
    first = oks[0][1].t
    if remade:
        old = oks[0][0].call_id
        oks = lab.wire_until(lambda m: [
            o for o in L.registers_ok(m, S1, src=L.PHONE)
            if o[0].call_id != old], 2,
            "a REGISTER of a user agent made anew, answered 200")
        unreg = transactions(lab.wire(), S1, since=first,
                             unregister=True)
        assert len(unreg) == 1 and unreg[0].t < oks[0][0].t, \
            "want one un-REGISTER before the new user agent's " \
            "REGISTER:\n%s" % L.summary(unreg + [oks[0][0]])
        first = oks[0][1].t
        L.wait_for(lambda: "made anew with rwait=89" in b.log_text(), 5,
                   "the log naming the new rwait")
    L.wait_for(lambda: L.working(b.status(), USER) == 1, 5,
               "server 1 working")
    while time.time() < first + 40:
        st = b.status()
        s1 = server_of(L.line_of(st, USER), 1)
        assert L.working(st, USER) == 1 and s1.get("state") in (
            "Registered", "Registered*"), "%.1f s after the grant of " \
            "expires=%d: %s" % (time.time() - first, expires, describe(st))
        time.sleep(1)
    msgs = lab.wire()
    regs = transactions(msgs, S1, since=first + 0.5, unregister=False)
    unreg = transactions(msgs, S1, since=first + 0.5, unregister=True)
    assert len(regs) == 1 and 25 <= regs[0].t - first <= 36, \
        "want one refresh REGISTER about 30 s after the first 200 " \
        "(expires=%d):\n%s" % (expires, L.summary(regs + unreg))
    assert len(unreg) <= 1, L.summary(unreg)
    assert b.running()


def test_registrar_grants_expires_999999999_kept(lab):
    longer_grant(lab, 999999999)


def test_registrar_grants_expires_2_32_minus_1_kept(lab):
    """4294967295 s: libre's wait wraps to 49.7 days"""
    longer_grant(lab, 4294967295)


def test_registrar_grants_expires_wrapping_libre_timer_kept(lab):
    """4772186 s: libre waits expires * 900 ms in 32 bits, which wraps to
    104 ms (a REGISTER every 0.1 s); at 89 % it is 49 days. (4294968,
    just above 2^32 ms, does not wrap there: 3865471200 ms.)"""
    longer_grant(lab, 4772186, remade=True)


test_registrar_grants_expires_999999999_kept.timeout = 90


def test_longer_grant_from_kamailio_with_auth_refreshed(lab):
    """Kamailio with digest auth grants at least 999999 s (its
    min_expires) to a phone asking 60, and its nonces expire after 10 s:
    the module's own refresh at 30 s is a new register client. The old
    client's un-REGISTER (libre sends it when it frees the client; the
    same Contact on 4.x) is challenged (libre 1.x sends it without
    credentials, later ones with a nonce gone stale) and answered before
    the new client's REGISTER goes: kamailio's processes handled the two
    at once, the un-REGISTER last, and removed the new binding while its
    200 OK listed it. Server 1 stays registered and working throughout
    45 s, and the registrar holds the phone's one binding at the end,
    with the long grant."""
    lab.capture()
    k = lab.kamailio(S1, auth_pw=PW,
                     defines=["MIN_EXPIRES=999999", "NONCE_EXPIRE=10"])
    for ip in (S2, S3):
        lab.kamailio(ip, auth_pw=PW)
    lab.uas()
    b = lab.baresip(lab.module, srvfailover=config(
        "cisco", server_params="regint=60;auth_pass=" + PW))
    first = lab.wire_until(lambda m: L.registers_ok(m, S1, src=L.PHONE), 10,
                           "a REGISTER to %s answered 200" % S1)[0][1].t
    while time.time() < first + 45:
        st = b.status()
        assert L.working(st, USER) == 1 and server_of(
            L.line_of(st, USER), 1).get("state") in (
            "Registered", "Registered*"), "%.1f s after the first 200: " \
            "%s" % (time.time() - first, describe(st))
        time.sleep(1)
    msgs = lab.wire()
    oks = L.registers_ok(msgs, S1, src=L.PHONE, since=first + 0.5)
    assert len(oks) == 1 and 25 <= oks[0][0].t - first <= 36, \
        "want one refresh about 30 s after the first 200:\n%s" % \
        L.summary([o[0] for o in oks])
    unreg = transactions(msgs, S1, since=first + 0.5, unregister=True)
    assert any(r.status == 401 for q in unreg
               for r in L.responses_to(msgs, q)), \
        "the old client's un-REGISTER was not challenged:\n%s" % \
        L.summary(unreg)
    finals = [L.final_response(msgs, q) for q in unreg]
    done = max(f.t for f in finals if f)
    new = [m for m in transactions(msgs, S1, since=first + 0.5,
                                   unregister=False)
           if m.call_id == oks[0][0].call_id]
    assert new[0].t > done, "the new client's REGISTER went %.3f s " \
        "before the old client's un-REGISTER was answered:\n%s" % (
            done - new[0].t, L.summary(transactions(
                msgs, S1, since=first + 0.5)))
    c = k.contacts(USER)
    assert len(c) == 1 and int(c[0].get("expires", 0)) > 3600, \
        "the registrar's bindings of %s at the end: %s" % (USER, c)
    assert b.running()


test_longer_grant_from_kamailio_with_auth_refreshed.timeout = 90
test_registrar_grants_expires_wrapping_libre_timer_kept.timeout = 90
test_registrar_grants_expires_2_32_minus_1_kept.timeout = 90


def registered_once_at(lab, registrar):
    """Server 1 is registrar(lab) (started by it): registered and working
    6 s after its 200 OK, and no REGISTER again meanwhile (it granted
    60 s)."""
    lab.capture()
    registrar(lab)
    for ip in (S2, S3):
        lab.kamailio(ip)
    b = lab.baresip(lab.module, srvfailover=config("cisco"))
    first = lab.wire_until(lambda m: L.registers_ok(m, S1, src=L.PHONE), 10,
                           "a REGISTER to %s answered 200" % S1)[0][1].t
    L.wait_for(lambda: L.working(b.status(), USER) == 1, 5,
               "server 1 working")
    time.sleep(6)
    st = b.status()
    s1 = server_of(L.line_of(st, USER), 1)
    assert s1.get("state") in ("Registered", "Registered*") and \
        L.working(st, USER) == 1, describe(st)
    regs = transactions(lab.wire(), S1, since=first + 0.5)
    assert not regs, "REGISTERs to %s after its 200 OK:\n%s" % (
        S1, L.summary(regs))


def test_another_binding_of_the_contact_user_changes_nothing(lab):
    """The 200 OK lists a binding of the phone's Contact user at another
    address first (the phone before its address changed, an SBC's copy),
    with an expiry libre could not keep (4772186), then the phone's own
    with 60: only the phone's own binding counts (as libre finds it:
    user, address, transport)."""
    registered_once_at(lab, lambda lab: lab.registrar_two_devices(
        S1, 60, 4772186))


def test_registrar_rewriting_the_contact_still_registers(lab):
    """A 200 OK whose Contact is not the phone's (an SBC rewrote it) is a
    registration: server 1 is registered and working and stays so,
    refreshed at the granted 60 s, not again and again. (Telling an
    un-REGISTER's answer from a registration by the Contact, or by
    baresip's ua_isregistered(), would take it for none.)"""
    registered_once_at(lab, lambda lab: lab.registrar_rewrites_contact(S1))


# --------------------------------------------------------------------------
# 8. quitting


def failed_over_from_silent(lab):
    """Cisco, server 1 silent (nft drop on arrival) after the line
    registered: the line on server 2 for 2 s, requests to server 1
    unanswered. The baresip."""
    text = config("cisco", server_params=AUTH)
    b, kams = start(lab, srvfailover=text, auth=PW)
    wait_steady(b, "cisco")
    lab.drop(S1, hook="input")
    wait_status(b, "working 2", registered_on("cisco", 2), 20)
    time.sleep(2)
    return b


def seconds_to_exit(b, t):
    """How long after t baresip ended (waiting up to 35 s)."""
    try:
        b.popen.wait(35)
    except Exception:
        pass
    return time.time() - t


def test_quit_after_failover_within_2s(lab):
    """After a failover from a silent server 1 (failed_over_from_silent),
    `quit` (ctrl_tcp) ends baresip within 2 s, not after libre's 32 s."""
    b = failed_over_from_silent(lab)
    pending = [m for m in L.requests(lab.wire(), src=L.PHONE, dst=S1)
               if m.t >= time.time() - 4]
    t = time.time()
    data = json.dumps({"command": "quit", "token": "quit"}).encode()
    b.ctrl.sock.sendall(b"%d:%s," % (len(data), data))  # no wait for it
    took = seconds_to_exit(b, t)
    print("baresip ended %.1fs after quit (%s); requests to %s in the "
          "4 s before: %d" % (took, b.popen.poll(), S1, len(pending)))
    assert b.popen.poll() is not None and took < 2.0, \
        "baresip still running %.1fs after `quit` following a failover " \
        "(requests to the silent %s in the 4 s before: %s)" % (
            took, S1, [m.method for m in pending])


def test_sigterm_after_failover_within_2s(lab):
    """As above with SIGTERM (systemctl stop)."""
    b = failed_over_from_silent(lab)
    t = time.time()
    b.popen.terminate()
    took = seconds_to_exit(b, t)
    print("baresip ended %.1fs after SIGTERM" % took)
    assert b.popen.poll() is not None and took < 2.0, \
        "baresip still running %.1fs after SIGTERM following a failover" \
        % took


# --------------------------------------------------------------------------
# 9. boot before the servers can be reached


def test_boot_without_route_then_icmp_detection(lab):
    """baresip starts while no server can be reached (an `unreachable`
    routing rule for the servers' addresses, as a phone whose Wi-Fi is not
    up yet: sending fails with "Network is unreachable", so no ICMP probe
    socket can be connected). The rule goes after 3 s; the line
    registers. Then server 1 is killed: the ICMP port unreachable is seen
    and the line is on server 2 well under a second after the first
    request that met the dead server."""
    def ip(*args):
        r = subprocess.run(["ip"] + list(args), capture_output=True,
                           text=True, timeout=10)
        if r.returncode:
            raise L.LabError("ip %s: %s" % (" ".join(args), r.stderr))
    # the local table after the rules below, so that they win
    ip("rule", "add", "pref", "100", "table", "local")
    ip("rule", "del", "pref", "0")
    for s in SERVERS:
        ip("rule", "add", "pref", "50", "to", s, "unreachable")
    b, kams = start(lab, "cisco")
    time.sleep(3)
    st = b.status()
    print("before the route: " + describe(st))
    assert L.working(st, USER) is None, "registered without a route: " + \
        describe(st)
    for s in SERVERS:
        ip("rule", "del", "pref", "50", "to", s, "unreachable")
    wait_steady(b, "cisco", timeout=30)
    t = time.time()
    kams[S1].kill()
    wait_status(b, "working 2", registered_on("cisco", 2), 15)
    msgs = lab.wire()
    met = [m for m in L.requests(msgs, src=L.PHONE, dst=S1) if m.t >= t]
    to2 = transactions(msgs, S2, since=t, unregister=False)
    assert met and to2, "after the kill:\n" + L.summary(
        [m for m in msgs if m.t >= t])
    delay = to2[0].t - met[0].t
    print("REGISTER to %s %.3fs after the %s to the dead %s" % (
        S2, delay, met[0].method, S1))
    assert delay < 1.0, "%.2fs from the %s to the dead %s to the REGISTER " \
        "to %s: no ICMP seen (no probe socket since the boot without a " \
        "route?)" % (delay, met[0].method, S1, S2)


# --------------------------------------------------------------------------
# IPv6 servers (the lab's IPv6 addresses; issue 12 found them working)


def test_ipv6_servers_register_and_fail_over(lab):
    """An IPv6 phone ([fd00::10]) with three IPv6 servers (fd00::2,
    fd00::3, ::1), digest auth, cisco mode: registers with server 1 (the
    registrar holds an IPv6 contact), fails over to server 2 when server 1
    is killed (ICMPv6 port unreachable), and fails back."""
    servers = L.SERVERS6
    lab.ipv6(L.PHONE6, *[ip for ip in servers if ip != "::1"])
    lab.capture()
    kams = {ip: lab.kamailio(ip, auth_pw=PW) for ip in servers}
    lab.uas()
    text = lines_config([(USER, AUTH, CISCO)], servers=servers)
    b = lab.baresip(lab.module, srvfailover=text, listen=L.PHONE6_LISTEN)
    wait_steady(b, "cisco")
    c = L.wait_for(lambda: kams[servers[0]].contacts(USER), 5,
                   "contact at " + servers[0])
    assert "[%s]" % L.PHONE6 in c[0]["contact"], c
    t = time.time()
    kams[servers[0]].kill()
    wait_status(b, "working 2", registered_on("cisco", 2), 25)
    regs = transactions(lab.wire(), servers[1], since=t, unregister=False)
    assert regs and regs[0].src == L.PHONE6, "REGISTERs to %s: %s" % (
        servers[1], L.summary(regs))
    L.wait_for(lambda: kams[servers[1]].contacts(USER), 5,
               "contact at " + servers[1])
    print("on server 2 %.2fs after the kill" % (regs[0].t - t))
    kams[servers[0]].start()
    wait_status(b, "back on 1", registered_on("cisco", 1), 25)
