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
