"""One source, two baresips: a build for the other Debian suite refuses
to run, with one clear line, and baresip goes on without it.

test/run-all.sh runs this suite against bookworm's baresip 1.0.0 and
against trixie's 1.1.0, with SFO_OTHER_MODULE set to the other build.
"""

import os
import time

import lab as L
from common import SERVERS, config

OTHER = os.environ.get("SFO_OTHER_MODULE", "")
# what each build says of itself, and of the baresip it finds
BUILT_FOR = {"1.0.0": "1.1.0 (Debian trixie)",
             "1.1.0": "1.0.0 (Debian bookworm)"}


def test_build_for_the_other_baresip_refuses_with_one_line(lab):
    kam = lab.kamailio(SERVERS[0])
    lab.capture()
    b = lab.baresip(OTHER, srvfailover=config("cisco"))
    time.sleep(2)

    refusals = b.lines("srvfailover: built for baresip")
    assert len(refusals) == 1, "want one refusal line, got %s; log: %s" % (
        refusals, b.lines() or b.log_text()[-2000:])
    line = refusals[0]
    ok = [v for v, found in BUILT_FOR.items()
          if "built for baresip %s, but this baresip is %s" % (v, found)
          in line]
    assert ok, "the line names neither build nor baresip right: " + line
    assert "install" in line.lower(), "the line says nothing of what to do: " + line

    # baresip runs on, without the module: no command, nothing sent
    assert b.running(), "baresip ended"
    reply = b.ctrl.request("srvfailover", "json", 5)
    assert "lines" not in str(reply.get("data")), \
        "the refused module answered: %s" % reply
    regs = L.requests(lab.wire(), "REGISTER")
    assert not regs, "REGISTERs sent: %s" % regs[:3]
    assert not kam.contacts("100"), "a contact at the registrar"
    assert len(b.lines("srvfailover:")) == 1, b.lines()


test_build_for_the_other_baresip_refuses_with_one_line.needs = \
    ("SFO_OTHER_MODULE", "the build for the other baresip (run-all.sh)")


def rival_lines(b):
    return [l for l in b.lines("srvfailover:") if "would" in l]


def test_accounts_line_of_a_managed_server_is_named_at_start(lab):
    """A server both in `accounts` and in `srvfailover`: baresip and the
    module would both register it. Said once at start-up, by name."""
    lab.kamailio(SERVERS[0])
    aor = "sip:100@%s" % SERVERS[0]
    b = lab.baresip(lab.module, srvfailover=config("cisco"),
                    accounts="<%s;transport=udp>;regint=0" % aor)
    L.wait_for(lambda: rival_lines(b), 5, "a line naming the rival")
    lines = rival_lines(b)
    assert len(lines) == 1 and aor in lines[0] and "accounts" in lines[0] \
        and "server 1 of line 100" in lines[0], lines
    assert b.running()


def test_serreg_beside_the_module_is_named_at_start(lab):
    """trixie's baresip-core ships serreg.so (registration by the
    accounts' prio): loaded beside srvfailover, the user is told."""
    lab.kamailio(SERVERS[0])
    b = lab.baresip(lab.module, srvfailover=config("cisco"),
                    extra=["module serreg.so"])
    L.wait_for(lambda: rival_lines(b), 5, "a line naming serreg.so")
    lines = rival_lines(b)
    assert len(lines) == 1 and "serreg.so" in lines[0], lines
    assert b.running()


test_serreg_beside_the_module_is_named_at_start.baresip = "1.1.0"
