"""The fault matrix, short (make test); the long runs are make soak
(test/soak/soak_faults.py). The scenarios live in test/soak/faultlab.py.

- a server answering garbage, truncated or huge messages crashes
  nothing, is never used, and the line works through a good server;
- all servers down, then back: the line recovers by itself within the
  back-off maximum;
- a server given up with its REGISTER unanswered: baresip's memory stays
  sound (valgrind) until that REGISTER and the un-REGISTER time out.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "soak"))

import faultlab as F  # noqa: E402
import lab as L  # noqa: E402
from common import SERVERS, USER, config  # noqa: E402


def test_faults_garbage_servers_crash_nothing(lab):
    F.garbage_run(lab, "parallel", seconds=15, settle=20, every=15)


def test_faults_all_servers_down_then_back_recovers(lab):
    F.all_down_run(lab, "cisco", down=12)


def test_faults_all_servers_down_sequential_no_check_storm(lab):
    """Sequential mode, every server killed (ICMP: each check fails at
    once): checked at the fallback interval, not in a loop"""
    F.all_down_run(lab, "sequential", down=12)


test_faults_garbage_servers_crash_nothing.timeout = 60
test_faults_all_servers_down_then_back_recovers.timeout = 60
test_faults_all_servers_down_sequential_no_check_storm.timeout = 60


def test_server_given_up_with_register_in_flight_memory_sound(lab):
    """Server 1 answers OPTIONS but never a REGISTER: its REGISTER goes
    unanswered, the module gives the server up (it withdraws the
    registration) while libre still retransmits that REGISTER, and
    baresip quits meanwhile. baresip 4.x's ua_unregister() sent the
    un-REGISTER at once on the same register client: two requests for
    one client, and when the stack closed them libre wrote into the
    client after freeing it (heap corruption, an abort at a later
    malloc). Under valgrind: no invalid access, baresip quits cleanly,
    and no un-REGISTER goes out before the REGISTER is answered."""
    lab.capture()
    lab.register_silent(SERVERS[0])
    for ip in SERVERS[1:]:
        lab.kamailio(ip)
    # (valgrind starts baresip slowly, the more so beside other tests)
    b = lab.baresip_proc = L.Baresip(
        lab, lab.module, srvfailover=config("cisco"),
        wrap=["valgrind", "--log-file=" + lab.path("valgrind.log"),
              "--num-callers=30"]).start(timeout=60)
    L.wait_for(lambda: L.working(b.status(), USER) == 2, 30,
               "working server 2")
    time.sleep(2)
    unreg = [m for m in L.requests(lab.wire(), "REGISTER", src=L.PHONE,
                                   dst=SERVERS[0]) if m.is_unregister]
    assert not unreg, "un-REGISTER beside the unanswered REGISTER:\n" + \
        L.summary(unreg)
    b.terminate(timeout=30)  # valgrind writes its summary at the end
    assert not b.died, b.died
    with open(lab.path("valgrind.log")) as f:
        log = f.read()
    errors = re.findall(r"^==\d+== (Invalid \w+ of size \d+)", log, re.M)
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", log)
    assert summary and not errors and summary.group(1) == "0", \
        "valgrind: %s; %s" % (errors[:5], log[-3000:])


test_server_given_up_with_register_in_flight_memory_sound.timeout = 150
