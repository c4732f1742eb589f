"""Shared steps of the srvfailover scenarios (not a test file).

The standard lab: kamailio on 127.0.0.2, .3 and .4 (port 5060) = servers
1, 2 and 3 of line 100; the sipp UAS on 127.0.0.99 as every kamailio's
callee; baresip with the module on 127.0.0.10:5060; tcpdump from before
baresip starts.
"""

import os
import time

import lab as L

SERVERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
USER = "100"

# Short intervals, on a line's first server. sfo_probe_interval: cisco
# OPTIONS checks; sfo_fallback_interval: sequential REGISTER probes;
# sfo_retry_base/max: registration back-off (module README).
LINE_PARAMS = {
    "parallel": "sfo_probe_interval=2;sfo_failback=immediate;"
                "sfo_retry_base=2;sfo_retry_max=8",
    "cisco": "sfo_probe_interval=2;sfo_failback=immediate;"
             "sfo_retry_base=2;sfo_retry_max=8",
    "sequential": "sfo_probe_interval=2;sfo_fallback_interval=5;"
                  "sfo_failback=immediate;sfo_retry_base=2;sfo_retry_max=8",
}

# What `srvfailover json` shows once a line has settled on server 1
STEADY = {
    "parallel": {1: "Registered*", 2: "Registered", 3: "Registered"},
    "cisco": {1: "Registered", 2: "Reachable", 3: "Reachable"},
    "sequential": {1: "Registered", 2: "Standby", 3: "Standby"},
}

# How long a scenario waits for the module (seconds)
SETTLE = 15      # start-up to steady state
DETECT = 25      # a dead/failing working server to working == 2
FAILBACK = {"parallel": 30, "cisco": 20, "sequential": 25}


# Every PBX challenges: the lab's servers do too, unless a test brings
# its own srvfailover text (then auth only where it asks for it).
# SFO_LAB_AUTH=0 runs the suites without digest auth.
AUTH_DEFAULT = os.environ.get("SFO_LAB_AUTH", "1") != "0"


def config(mode=None, user=USER, servers=SERVERS, line_params=None,
           server_params="regint=60"):
    """The module's `srvfailover` file for one line.

    mode None: no sfo_mode (the config's srvfailover_mode decides).
    """
    params = LINE_PARAMS.get(mode or "cisco") if line_params is None \
        else line_params
    if AUTH_DEFAULT and "auth_pass" not in server_params:
        server_params += ";auth_pass=" + PW
    out = []
    for i, ip in enumerate(servers):
        line = "<sip:%s@%s;transport=udp>;%s" % (user, ip, server_params)
        if i == 0:
            if mode:
                line += ";sfo_mode=" + mode
            if params:
                line += ";" + params
        out.append(line)
    return "\n".join(out) + "\n"


def need_module(lab):
    if not lab.module:
        raise L.LabError("no --module given")


def other_module(version):
    """The module built for baresip `version`, the other one than this
    target's (a fleet of both baresips, test_fleet): SFO_OTHER_MODULE,
    which test/run-all.sh sets to the other target's build ("" when
    absent). The one place that says where it comes from."""
    return os.environ.get("SFO_OTHER_MODULE", "")


TWINKLE_PORT = 5070  # start(uas="twinkle"): twinkle on *:5070 as callee


def start(lab, mode=None, srvfailover=None, extra=(), uas="uas",
          servers=SERVERS, defines=None, auth=None, tls=False,
          contacts=""):
    """Capture, kamailios, UAS, then baresip with the module.

    defines: {ip: ["INVITE_503", ...]}, kamailio.cfg defines per server.
    auth: digest auth on every kamailio with this password (a str), or
    {ip: password} (servers left out: no auth). tls: every kamailio also
    listens for TLS on 5061 with the lab's certificate, and baresip gets
    it as sip_cafile. uas: the sipp callee's scenario ("uas", "uas_486",
    ...), "twinkle" (twinkle answers; the kamailios send calls to
    CALLEE:5070) or None (no callee). contacts: baresip's contacts file
    (load contact.so through extra).
    Returns (baresip, {ip: kamailio}).
    """
    need_module(lab)
    lab.capture()
    if auth is None and srvfailover is None and AUTH_DEFAULT:
        auth = PW
    if isinstance(auth, str):
        auth = {ip: auth for ip in servers}
    # uas "twinkle": twinkle answers the calls instead of the sipp UAS
    callee = L.CALLEE + (":%d" % TWINKLE_PORT if uas == "twinkle"
                         else ":5060")
    kams = {ip: lab.kamailio(ip, callee=callee,
                             defines=(defines or {}).get(ip, ()),
                             auth_pw=(auth or {}).get(ip), tls=tls)
            for ip in servers}
    if tls:
        extra = list(extra) + tls_config(lab)
    if uas == "twinkle":
        lab.twinkle(TWINKLE_PORT)
    elif uas:
        lab.uas(scenario=uas)
    lab.t_start = time.time()
    b = lab.baresip(lab.module, srvfailover=srvfailover or config(mode),
                    extra=extra, contacts=contacts)
    return b, kams


def describe(status, user=USER):
    line = L.line_of(status, user)
    if not line:
        return "no line %s in %s" % (user, status)
    return "mode=%s working=%s %s" % (
        line.get("mode"), line.get("working"),
        ", ".join("%s:%s" % (s.get("prio"), s.get("state"))
                  for s in line.get("servers", [])))


def wait_status(b, what, check, timeout, user=USER):
    """Poll `srvfailover json` until check(line dict) is true.

    On timeout the error shows the last status of the line.
    """
    last = {}

    def probe():
        nonlocal last
        last = b.status()
        line = L.line_of(last, user)
        return line if line and check(line) else None
    try:
        return L.wait_for(probe, timeout, what, interval=0.2)
    except L.LabError as e:
        raise L.LabError("%s; last: %s" % (e, describe(last, user)))


def states_are(expect):
    """check(): the line's servers show exactly these states."""
    def check(line):
        got = {s.get("prio"): s.get("state") for s in line["servers"]}
        return all(got.get(p) == st for p, st in expect.items())
    return check


def wait_steady(b, mode, timeout=SETTLE, user=USER):
    expect = STEADY[mode]
    return wait_status(
        b, "line %s steady in %s mode (%s, working 1)" % (user, mode, expect),
        lambda line: line.get("working") == 1 and line.get("mode") == mode
        and states_are(expect)(line), timeout, user)


def server_state(line, prio):
    for s in line["servers"]:
        if s.get("prio") == prio:
            return s.get("state")
    return None


def registered_on(mode, prio):
    """check(): prio is the working server and registered."""
    want = "Registered*" if mode == "parallel" else "Registered"
    return lambda line: line.get("working") == prio and \
        server_state(line, prio) == want


def wire_registers(lab, ip, src=L.PHONE):
    """All REGISTERs (un-REGISTERs too) baresip sent to ip so far."""
    return L.requests(lab.wire(), "REGISTER", src=src, dst=ip)


def assert_no_register(lab, ips, when):
    msgs = lab.wire()
    for ip in ips:
        bad = L.requests(msgs, "REGISTER", dst=ip)
        assert not bad, "%s: %d REGISTER to %s (the mode calls for none)" \
            ":\n%s" % (when, len(bad), ip, L.summary(msgs))


def wait_register_ok(lab, ip, since, timeout=5, what=None):
    """A REGISTER (not un-) to ip sent after since, answered 2xx."""
    try:
        return lab.wire_until(
            lambda m: L.registers_ok(m, ip, src=L.PHONE, since=since),
            timeout, what or "REGISTER to %s answered 200" % ip)[0]
    except L.LabError as e:
        raise L.LabError("%s; wire since then:\n%s" % (e, L.summary(
            [m for m in lab.wire() if m.t >= since])))


def wait_unregister(lab, ip, after, timeout=5):
    """An un-REGISTER to ip sent at or after time `after`."""
    try:
        return lab.wire_until(
            lambda m: [x for x in L.requests(m, "REGISTER", src=L.PHONE,
                                             dst=ip)
                       if x.is_unregister and x.t >= after],
            timeout, "un-REGISTER to %s" % ip)[0]
    except L.LabError as e:
        raise L.LabError("%s; wire since then:\n%s" % (e, L.summary(
            [m for m in lab.wire() if m.t >= after])))


def srvfailover_lines(b):
    return b.lines("srvfailover:")


# --------------------------------------------------------------------------
# a realistic lab (issue 12): digest auth, TLS, two lines, IPv6

# The lab's SIP password (kamailio -A AUTH_PW, the srvfailover file's
# auth_pass). Never put it in a failure message.
PW = "lab-Secret-4242"
WRONG_PW = "lab-Other-1717"  # a server that expects another password


def tls_config(lab):
    """baresip config lines for the lab's TLS servers: the self-signed
    certificate as sip_cafile (baresip 1.1.0 then verifies the server; the
    certificate names every lab address)."""
    cert, _ = lab.tls_cert()
    return ["sip_cafile " + cert]


def lines_config(lines, servers=SERVERS, transport="udp"):
    """A srvfailover file of several lines on the same servers.

    lines: [(user, server_params, line_params)], e.g.
      [("100", "regint=60;auth_pass=" + PW, LINE_PARAMS["cisco"] +
        ";sfo_mode=cisco"), ("101", ...)]
    """
    out = []
    for user, server_params, line_params in lines:
        for i, ip in enumerate(servers):
            host = "[%s]" % ip if ":" in ip else ip
            line = "<sip:%s@%s;transport=%s>;%s" % (user, host, transport,
                                                    server_params)
            if i == 0 and line_params:
                line += ";" + line_params
            out.append(line)
    return "\n".join(out) + "\n"


def safe(text):
    """text with the lab's passwords masked (for failure messages)."""
    for pw in (PW, WRONG_PW):
        text = text.replace(pw, "***")
    return text
