"""sequential mode: start-up, failover and fail-back, a call across a switch.
"""

import scenarios


def test_sequential_startup(lab):
    scenarios.startup(lab, "sequential")


def test_sequential_main_killed_fails_over_and_back(lab):
    scenarios.failover_kill(lab, "sequential")


def test_sequential_main_503_fails_over_and_back(lab):
    scenarios.failover_503(lab, "sequential")


def test_sequential_call_survives_switch(lab):
    scenarios.call_survives_switch(lab, "sequential")
