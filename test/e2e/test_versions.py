"""One source, three baresips: a build for another baresip refuses to
run, with one clear line, and baresip goes on without it.

test/run-all.sh runs this suite against bookworm's baresip 1.0.0,
trixie's 1.1.0 and upstream's 4.10.0, with SFO_OTHER_MODULE set to
another build (the Debian ones each other's, upstream's bookworm's;
SFO_OTHER_UPSTREAM=1 when it is upstream's).
"""

import os
import subprocess
import time

import lab as L
from common import SERVERS, config

OTHER = os.environ.get("SFO_OTHER_MODULE", "")
# a Debian build and upstream's: the dynamic linker refuses it
UNLINKABLE = bool(L.BARESIP_PREFIX) or \
    os.environ.get("SFO_OTHER_UPSTREAM") == "1"
# what each build says of itself, and of the baresip it finds
BUILT_FOR = {"1.0.0": "1.1.0 (Debian trixie)",
             "1.1.0": "1.0.0 (Debian bookworm)"}


def assert_refused_line(b):
    """One line of the module, naming its build and this baresip."""
    refusals = b.lines("srvfailover: built for baresip")
    assert len(refusals) == 1, "want one refusal line, got %s; log: %s" % (
        refusals, b.lines() or b.log_text()[-2000:])
    line = refusals[0]
    ok = [v for v, found in BUILT_FOR.items()
          if "built for baresip %s, but this baresip is %s" % (v, found)
          in line]
    assert ok, "the line names neither build nor baresip right: " + line
    assert "install" in line.lower(), \
        "the line says nothing of what to do: " + line


def assert_unlinkable(b):
    """A build for 1.x in 4.x, or the reverse: dlopen fails (baresip's
    own line names the symbol) before any code of the module runs."""
    lines = b.lines("undefined symbol")
    assert lines and "srvfailover.so" in lines[0], \
        "no dlopen error naming srvfailover.so; log: %s" % \
        b.log_text()[-2000:]
    assert not b.lines("srvfailover:"), b.lines()


def test_build_for_the_other_baresip_refuses_with_one_line(lab):
    kam = lab.kamailio(SERVERS[0])
    lab.capture()
    b = lab.baresip(OTHER, srvfailover=config("cisco"))
    time.sleep(2)

    if UNLINKABLE:
        assert_unlinkable(b)
    else:
        assert_refused_line(b)
        assert len(b.lines("srvfailover:")) == 1, b.lines()
    assert_runs_without_module(lab, b, kam)


def assert_runs_without_module(lab, b, kam):
    """baresip runs on, without the module: no command, nothing sent."""
    assert b.running(), "baresip ended"
    reply = b.ctrl.request("srvfailover", "json", 5)
    assert "lines" not in str(reply.get("data")), \
        "the refused module answered: %s" % reply
    regs = L.requests(lab.wire(), "REGISTER")
    assert not regs, "REGISTERs sent: %s" % regs[:3]
    assert not kam.contacts("100"), "a contact at the registrar"


# what the preloaded library makes baresip_version() say
OTHER_RELEASE = r"""
const char *baresip_version(void) { return "4.9.0"; }
"""


def test_upstream_build_refuses_another_4x_release(lab):
    """Between 4.x releases the event names are the same and the symbols
    link; baresip_version() differs: the module refuses with one line.
    (baresip_version() made to say 4.9.0 by a preloaded library.)"""
    kam = lab.kamailio(SERVERS[0])
    lab.capture()
    src, so = lab.path("version.c"), lab.path("version.so")
    with open(src, "w") as f:
        f.write(OTHER_RELEASE)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src], check=True,
                   timeout=60)
    b = L.Baresip(lab, lab.module, srvfailover=config("cisco"))
    b.env = dict(os.environ, LD_PRELOAD=so)
    b.start()
    time.sleep(2)
    lines = b.lines("srvfailover:")
    assert len(lines) == 1 and "built for baresip 4.10.0, but this " \
        "baresip is 4.9.0" in lines[0], "want one refusal line, got %s" % (
            lines or b.log_text()[-2000:])
    assert_runs_without_module(lab, b, kam)


test_upstream_build_refuses_another_4x_release.baresip = "4.10.0"


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


test_serreg_beside_the_module_is_named_at_start.baresip = ("1.1.0",
                                                           "4.10.0")
