"""make soak: the long fault runs of issue 5 (not in make test).

(a) the main server flapping (kill -9 / start every 2 s for 2 minutes),
    each mode: REGISTER rate against the back-off, bounded switches;
(b) all servers down for a minute, then back: the line recovers by
    itself within the back-off maximum, each mode;
(c) two servers answering garbage for 2 minutes, each mode: nothing
    crashes, they are never used, the good servers carry the line.

The checks and their bounds are in faultlab.py (flap_run, all_down_run,
garbage_run). Short versions run in make test: test/e2e/test_faults.py.
"""

import faultlab as F


def soak_flap_parallel(lab):
    F.flap_run(lab, "parallel", seconds=120)


def soak_flap_cisco(lab):
    F.flap_run(lab, "cisco", seconds=120)


def soak_flap_sequential(lab):
    F.flap_run(lab, "sequential", seconds=120)


def soak_all_down_parallel(lab):
    F.all_down_run(lab, "parallel", down=60)


def soak_all_down_cisco(lab):
    F.all_down_run(lab, "cisco", down=60)


def soak_all_down_sequential(lab):
    F.all_down_run(lab, "sequential", down=60)


def soak_garbage_parallel(lab):
    F.garbage_run(lab, "parallel", seconds=120)


def soak_garbage_cisco(lab):
    F.garbage_run(lab, "cisco", seconds=120)


def soak_garbage_sequential(lab):
    F.garbage_run(lab, "sequential", seconds=120)


for _f in (soak_flap_parallel, soak_flap_cisco, soak_flap_sequential,
           soak_garbage_parallel, soak_garbage_cisco,
           soak_garbage_sequential):
    _f.timeout = 330
for _f in (soak_all_down_parallel, soak_all_down_cisco,
           soak_all_down_sequential):
    _f.timeout = 200


def soak_invite_unanswered_fails_over(lab):
    """Control of the next one: an INVITE that gets nothing usable."""
    F.invite_garbage_run(lab, "random")


def soak_invite_stray_provisional_fails_over(lab):
    """A 183 that is not for our INVITE's transaction (wrong branch)
    must not count as the server's provisional answer."""
    F.invite_garbage_run(lab, "stray1xx")


soak_invite_unanswered_fails_over.timeout = 120
soak_invite_stray_provisional_fails_over.timeout = 120


def soak_reason_phrases_stay_json(lab):
    F.reason_run(lab)


soak_reason_phrases_stay_json.timeout = 120
