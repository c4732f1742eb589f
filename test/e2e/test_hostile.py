"""Careless and hostile input: no password in any output, every error of
the srvfailover file reaches the log, user IDs that every interface can
name, and no call through a line without a usable server."""

import http.client
import json
import os
import subprocess
import time

import lab as L
from common import PW, SERVERS, USER, WRONG_PW, start, states_are, \
    wait_status, wait_steady

S1, S2, S3 = SERVERS
MARK = "Mark3r-pw"  # the password of every line below: never printed

# Each of these lines is broken in its own way and carries the password
BROKEN = [
    '"Alice" sip:100@%s;auth_pass=%s' % (S1, MARK),
    "sip:100@%s;auth_pass=%s;regint=60" % (S1, MARK),
    '<sip:100@%s>;auth_pass="%s' % (S1, MARK),
    '%s";regint=60' % MARK,                      # the rest of that one
    "<sip:100:%s@%s:99999>" % (MARK, S1),
    "<tel:100>;auth_pass=%s" % MARK,
    "<sips:100@%s>;auth_pass=%s" % (S1, MARK),
    "<sip:100@%s;auth_pass=%s" % (S1, MARK),
    "<sip:100@::1>;auth_pass=%s" % MARK,
    "<sip:100@%s>;auth_pass=%s <sip:100@%s>" % (S1, MARK, S2),
    "<sip:100@%s>;auth_pass=%s;sfo_mode=fast" % (S1, MARK),
    "<sip:100@%s>;auth_pass=%s;regint=%s" % (S2, MARK, "9" * 5000),
    "<sip:m\udcfcller@%s>;auth_pass=%s" % (S1, MARK),  # not UTF-8
]


def web(path):
    c = http.client.HTTPConnection("127.0.0.1", 8088, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.read().decode("utf-8", "replace")
    finally:
        c.close()


def test_no_password_in_any_output_and_every_error_logged(lab):
    kam = lab.kamailio(S1)
    # a BOM, CRLF line ends and a display name: baresip's accounts syntax
    good = ['"Desk" <sip:101@%s;transport=udp>;auth_pass=%s;regint=60;'
            'sfo_mode=cisco' % (S1, MARK),
            "<sip:m\u00fcller@%s>;auth_pass=%s;regint=60" % (S1, MARK)]
    text = "\ufeff" + "\r\n".join(good + BROKEN) + "\r\n"
    b = lab.baresip(lab.module,
                    srvfailover=text.encode("utf-8", "surrogateescape"))
    L.wait_for(lambda: kam.contacts("101"), 10, "line 101 registered")
    L.wait_for(lambda: kam.contacts("m\u00fcller"), 10,
               "line m\u00fcller registered")

    outputs = [b.command("srvfailover " + c) for c in (
        "status", "summary", "json", "disable 101 9", "mode 101 x",
        "bogus " + MARK, "disable m\u00fcller 1")]
    wait_status(b, "m\u00fcller deactivated from ctrl_tcp",
                states_are({1: "Deactivated"}), 5, user="m\u00fcller")
    status = b.status()  # valid JSON: ctrl.status() parses it
    outputs += [json.dumps(status), web("/"), web("/status.json")]
    json.loads(outputs[-1])
    log = b.log_text()
    names = ["status", "summary", "json", "disable", "mode", "bogus",
             "disable UTF-8", "status (parsed)", "page", "status.json",
             "log"]
    for name, text in zip(names, outputs + [log]):
        # say where, never what: the text around it may be more of it
        assert MARK not in text, "the marker password is in the %s " \
            "output, at offset %d" % (name, text.find(MARK))

    path = b.srvfailover_file
    first = len(good) + 1
    for n in range(first, first + len(BROKEN)):
        assert "%s:%d:" % (path, n) in log, \
            "no error for line %d:\n%s" % (n, "\n".join(b.lines()))
    assert "%s: %d errors" % (path, len(BROKEN)) in log, b.lines()
    assert L.line_of(status, "100") is None, status


def test_dial_without_a_usable_server_is_refused(lab):
    b, kams = start(lab, "cisco")
    wait_steady(b, "cisco")
    for prio in (1, 2, 3):
        b.command("srvfailover disable %s %d" % (USER, prio))
    wait_status(b, "every server deactivated", states_are(
        {1: "Deactivated", 2: "Deactivated", 3: "Deactivated"}), 5)
    t = time.time()
    out = b.ctrl.request("dial", "200")
    assert "not placed: no usable server" in str(out.get("data")), out
    out = b.ctrl.request("dial", "200@%s" % S2)
    assert "server 2 sip:%s is deactivated" % S2 in str(out.get("data")), \
        out
    time.sleep(1)
    inv = [m for m in L.requests(lab.wire(), "INVITE") if m.t >= t]
    assert not inv, "INVITEs sent:\n%s" % L.summary(inv)


def test_demo_prints_no_password(lab):
    """make demo shows the srvfailover file it runs with, passwords
    masked, and goes to its end"""
    r = subprocess.run([os.path.join(L.TOP, "contrib", "demo", "demo.sh"),
                        lab.module], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=150)
    out = r.stdout.decode("utf-8", "replace")
    for pw in (PW, WRONG_PW):
        assert pw not in out, "the demo printed a lab password (line %d)" \
            % out[:out.index(pw)].count("\n")
    assert "auth_pass=********" in out and "== demo done" in out, \
        "demo (exit %d), last lines:\n%s" % (
            r.returncode, "\n".join(out.splitlines()[-10:]))


test_demo_prints_no_password.timeout = 180
