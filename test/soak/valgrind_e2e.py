"""make valgrind-e2e: one cisco scenario with /usr/bin/baresip and the
module under valgrind (memcheck).

Start, main server killed, failover to server 2, main back, fail-back,
a call established and hung up, then `quit` over ctrl_tcp: baresip ends
normally and valgrind writes its verdict. Fails on any valgrind error
or definite leak whose stack passes through srvfailover.so; errors of
baresip and libre alone (test/soak/baresip.supp) are listed, not failed.
Generous waits: baresip runs some 20-50 times slower under valgrind.
"""

import time

import faultlab as F
from faultlab import L, common

S1, S2, S3 = common.SERVERS
SLOW = 4  # timeouts of the e2e scenarios, times this


def valgrind_cisco(lab):
    common.need_module(lab)
    lab.capture()
    kams = {ip: lab.kamailio(ip) for ip in common.SERVERS}
    lab.uas()
    b = F.ValgrindBaresip(lab, lab.module,
                          srvfailover=common.config("cisco"))
    t0 = time.time()
    b.start(timeout=120)
    lab.baresip_proc = b  # the lab stops it if the test fails
    F.note("baresip under valgrind: ctrl_tcp after %.1fs" % (time.time() - t0))

    common.wait_steady(b, "cisco", timeout=common.SETTLE * SLOW)
    F.note("steady after %.1fs" % (time.time() - t0))

    kams[S1].kill()
    # a call at once: its INVITE meets the dead server (ICMP) and is
    # placed again through server 2 (dial.c's attempts and timers)
    t_dial = time.time()
    b.command("dial 200", timeout=30)
    b.ctrl.wait_event("CALL_ESTABLISHED", 60, since=t_dial)
    b.command("hangup", timeout=30)
    b.ctrl.wait_event("CALL_CLOSED", 60, since=t_dial)
    common.wait_status(b, "working server 2 after kill -9 of " + S1,
                       common.registered_on("cisco", 2),
                       common.DETECT * SLOW)
    F.note("failover (and a call failed over to server 2) after %.1fs"
           % (time.time() - t0))

    kams[S1].start()
    common.wait_status(b, "fail-back to server 1",
                       common.registered_on("cisco", 1),
                       common.FAILBACK["cisco"] * SLOW)
    common.wait_status(b, "steady again",
                       common.states_are(common.STEADY["cisco"]), 60)
    F.note("fail-back after %.1fs" % (time.time() - t0))

    t_dial = time.time()
    b.command("dial 200", timeout=30)
    b.ctrl.wait_event("CALL_ESTABLISHED", 60, since=t_dial)
    time.sleep(2)
    b.command("hangup", timeout=30)
    b.ctrl.wait_event("CALL_CLOSED", 60, since=t_dial)
    F.note("call established and closed after %.1fs" % (time.time() - t0))

    st = b.status()
    assert L.working(st, common.USER) == 1, common.describe(st)

    # the other commands and the web page, for valgrind's eyes only
    for cmd in ("srvfailover", "srvfailover status", "srvfailover bogus",
                "srvfailover disable 100 9", "srvfailover disable 100 3",
                "srvfailover enable 100 3", "srvfailover mode 100 parallel",
                "srvfailover mode 100 cisco", "srvfailover json"):
        b.command(cmd, timeout=30)
    for method, path in (("GET", "/"), ("GET", "/status.json"),
                         ("HEAD", "/status.json"), ("GET", "/nothing"),
                         ("POST", "/servers/100/3/disable")):
        F.note("web %s %s: %s" % (method, path, F.http(method, path)))
    common.wait_status(b, "steady after the commands",
                       common.states_are(common.STEADY["cisco"]), 60)

    rc = b.quit(timeout=180)
    F.note("baresip ended (exit %s) after %.1fs" % (rc, time.time() - t0))

    errors, used = F.valgrind_errors(b.xml)
    mine = [e for e in errors if F.ours(e)]
    other = [e for e in errors if not F.ours(e)]
    for name, count in used:
        F.note("suppressed (baresip/libre): %s x%d" % (name, count))
    for e in other:
        F.note("not the module's (no srvfailover.so frame):\n" +
              F.describe_error(e))
    F.note("valgrind: %d error(s) through srvfailover.so, %d other, "
          "%d suppressed; exit %s" % (len(mine), len(other),
                                      sum(c for _, c in used), rc))
    assert not mine, "valgrind found %d error(s) in the module:\n%s" % (
        len(mine), "\n".join(F.describe_error(e) for e in mine))
    assert rc in (0, 3), "baresip under valgrind ended with %s" % rc
    assert rc == 0 or other, "valgrind exit 3 without a listed error"


valgrind_cisco.timeout = 900
