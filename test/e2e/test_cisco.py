"""cisco mode: start-up, failover and fail-back, a call across a switch.
"""

import scenarios


def test_cisco_startup(lab):
    scenarios.startup(lab, "cisco")


def test_cisco_main_killed_fails_over_and_back(lab):
    scenarios.failover_kill(lab, "cisco")


def test_cisco_main_503_fails_over_and_back(lab):
    scenarios.failover_503(lab, "cisco")


def test_cisco_call_survives_switch(lab):
    scenarios.call_survives_switch(lab, "cisco")
