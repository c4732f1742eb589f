"""Configuration errors: named precisely, and harmless to other lines."""

import re

import lab as L
from common import SERVERS, start, wait_status

S1, S2 = SERVERS[:2]


def test_bad_mode_is_reported_and_other_line_works(lab):
    # lines 1-2: user 101, fine; line 3: user 100's first server with an
    # unknown sfo_mode; line 4: user 100's second server
    text = "\n".join([
        "<sip:101@%s;transport=udp>;regint=60;sfo_mode=cisco;"
        "sfo_probe_interval=2" % S1,
        "<sip:101@%s;transport=udp>;regint=60" % S2,
        "<sip:100@%s;transport=udp>;regint=60;sfo_mode=bogus" % S1,
        "<sip:100@%s;transport=udp>;regint=60" % S2]) + "\n"
    b, kams = start(lab, srvfailover=text)

    wait_status(b, "line 101 registered on server 1",
                lambda l: l.get("working") == 1 and
                l["servers"][0].get("state") == "Registered", 15, user="101")
    L.wait_for(lambda: kams[S1].contacts("101"), 5, "101's contact at " + S1)
    assert b.running(), "baresip died"

    # e.g. "srvfailover: /path/srvfailover:3: sfo_mode: unknown 'bogus'"
    # or "srvfailover: srvfailover line 3: bad sfo_mode"
    path = b.srvfailover_file
    at_line_3 = re.compile(r"(?:%s|\bsrvfailover\b)[:,]?\s*(?:line\s*)?3\b"
                           % re.escape(path))

    def names_it(line):
        text = re.sub(r"^\W*srvfailover:\s*", "", line)
        return "sfo_mode" in text and at_line_3.search(text)
    log = b.log_text().splitlines()
    hits = [l for l in log if names_it(l)]
    assert hits, ("no error naming the file (%s), line 3 and key sfo_mode; "
                  "lines mentioning sfo_mode: %s" % (
                      path, [l for l in log if "sfo_mode" in l] or "none"))
    print("error line: %s" % hits[0])


def test_start_delay_holds_the_first_register(lab):
    """srvfailover_start_delay 3: the phone says how long it waits (a
    random 0..3 s) and sends no REGISTER before that; a bad value is
    named with its line in baresip's config, and there is no wait."""
    import time
    from common import wait_steady
    b, _ = start(lab, "cisco", extra=["srvfailover_start_delay 3"])
    wait_steady(b, "cisco", timeout=20)
    said = b.lines("srvfailover: registering in ")
    regs = L.requests(lab.wire(), "REGISTER", src=L.PHONE)
    assert regs, "no REGISTER"
    assert len(said) == 1, said
    delay = float(re.search(r"registering in ([0-9.]+) s", said[0]).group(1))
    assert 0 <= delay <= 3, said
    took = regs[0].t - lab.t_start
    assert delay <= took <= delay + 2.0, \
        "first REGISTER %.2f s after start, the wait said %.2f s" % (
            took, delay)
    with open(b.srvfailover_file) as f:
        text = f.read()
    b.terminate()

    b = lab.baresip(lab.module, srvfailover=text,
                    extra=["srvfailover_start_delay soon"])
    t = time.time()
    wait_steady(b, "cisco", timeout=20)
    bad = b.lines("srvfailover_start_delay")
    assert any(re.search(r"/config:\d+: srvfailover_start_delay: 'soon' "
                         r"is not a number of seconds 0\.\.3600; 0 used",
                         x) for x in bad), bad
    # (the log holds both runs)
    assert len(b.lines("registering in")) == len(said), \
        b.lines("registering in")
    assert time.time() - t < 10
