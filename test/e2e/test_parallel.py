"""parallel mode: start-up, failover and fail-back, a call across a switch.
"""

import scenarios


def test_parallel_startup(lab):
    scenarios.startup(lab, "parallel")


def test_parallel_main_killed_fails_over_and_back(lab):
    scenarios.failover_kill(lab, "parallel")


def test_parallel_main_503_fails_over_and_back(lab):
    scenarios.failover_503(lab, "parallel")


def test_parallel_call_survives_switch(lab):
    scenarios.call_survives_switch(lab, "parallel")
