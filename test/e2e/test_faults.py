"""The fault matrix, short (make test); the long runs are make soak
(test/soak/soak_faults.py). The scenarios live in test/soak/faultlab.py.

- a server answering garbage, truncated or huge messages crashes
  nothing, is never used, and the line works through a good server;
- all servers down, then back: the line recovers by itself within the
  back-off maximum.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "soak"))

import faultlab as F  # noqa: E402


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
