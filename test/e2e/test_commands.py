"""Console commands: disable/enable, mode, status; no password in output."""

import time

import lab as L
from common import (SERVERS, STEADY, USER, config, registered_on, start,
                    states_are, wait_register_ok, wait_status, wait_steady,
                    wait_unregister, srvfailover_lines)

S1, S2, S3 = SERVERS


def command(b, line):
    """Run a command; the reply text is kept in the test output."""
    out = b.command(line)
    print("%s -> %r" % (line, out))
    return out


def test_cisco_disable_enable(lab):
    # the mode comes from baresip's config (srvfailover_mode), not the line
    b, kams = start(lab, srvfailover=config(None),
                    extra=["srvfailover_mode cisco"])
    wait_steady(b, "cisco")

    command(b, "srvfailover disable %s 3" % USER)
    wait_status(b, "server 3 Deactivated, still on 1",
                lambda l: l["working"] == 1 and states_are(
                    {1: "Registered", 2: "Reachable", 3: "Deactivated"})(l),
                5)
    command(b, "srvfailover enable %s 3" % USER)
    wait_status(b, "server 3 Reachable again", states_are(STEADY["cisco"]),
                10)

    # disabling the working server moves the line to server 2
    t = time.time()
    command(b, "srvfailover disable %s 1" % USER)
    wait_status(b, "working 2 after disabling server 1",
                lambda l: registered_on("cisco", 2)(l) and
                states_are({1: "Deactivated"})(l), 10)
    wait_register_ok(lab, S2, t)
    wait_unregister(lab, S1, t)
    L.wait_for(lambda: not kams[S1].contacts(USER), 5,
               "no contact left at %s" % S1)

    t = time.time()
    command(b, "srvfailover enable %s 1" % USER)
    wait_status(b, "back on server 1 after enable",
                registered_on("cisco", 1), 15)
    req, resp = wait_register_ok(lab, S1, t)
    wait_unregister(lab, S2, resp.t)
    wait_status(b, "steady", states_are(STEADY["cisco"]), 10)


def test_parallel_disable_enable(lab):
    b, kams = start(lab, "parallel")
    wait_steady(b, "parallel")

    t = time.time()
    command(b, "srvfailover disable %s 2" % USER)
    wait_status(b, "server 2 Deactivated",
                states_are({1: "Registered*", 2: "Deactivated",
                            3: "Registered"}), 5)
    wait_unregister(lab, S2, t)
    t = time.time()
    command(b, "srvfailover enable %s 2" % USER)
    wait_status(b, "server 2 Registered again", states_are(STEADY["parallel"]),
                10)
    wait_register_ok(lab, S2, t)

    command(b, "srvfailover disable %s 1" % USER)
    wait_status(b, "server 2 is Registered* when 1 is disabled",
                lambda l: registered_on("parallel", 2)(l) and
                states_are({1: "Deactivated", 3: "Registered"})(l), 5)
    command(b, "srvfailover enable %s 1" % USER)
    wait_status(b, "server 1 Registered* again", states_are(
        STEADY["parallel"]), 10)


def test_sequential_disable_enable(lab):
    b, kams = start(lab, "sequential")
    wait_steady(b, "sequential")

    command(b, "srvfailover disable %s 2" % USER)
    wait_status(b, "server 2 Deactivated",
                states_are({1: "Registered", 2: "Deactivated",
                            3: "Standby"}), 5)
    command(b, "srvfailover enable %s 2" % USER)
    wait_status(b, "server 2 Standby again", states_are(
        STEADY["sequential"]), 5)

    t = time.time()
    command(b, "srvfailover disable %s 1" % USER)
    wait_status(b, "working 2 after disabling server 1",
                lambda l: registered_on("sequential", 2)(l) and
                states_are({1: "Deactivated", 3: "Standby"})(l), 10)
    wait_register_ok(lab, S2, t)
    wait_unregister(lab, S1, t)

    command(b, "srvfailover enable %s 1" % USER)
    wait_status(b, "back on server 1 after enable",
                registered_on("sequential", 1), 15)
    wait_status(b, "steady", states_are(STEADY["sequential"]), 10)
    assert not L.requests(lab.wire(), "REGISTER", dst=S3), \
        "REGISTER to %s in sequential mode" % S3


def test_mode_command_changes_registrations(lab):
    b, kams = start(lab, "parallel")
    wait_steady(b, "parallel")

    t = time.time()
    command(b, "srvfailover mode %s cisco" % USER)
    wait_steady(b, "cisco", 10)
    for ip in (S2, S3):
        wait_unregister(lab, ip, t)
        L.wait_for(lambda: not kams[ip].contacts(USER), 5,
                   "no contact left at %s" % ip)

    command(b, "srvfailover mode %s sequential" % USER)
    wait_steady(b, "sequential", 10)

    t = time.time()
    command(b, "srvfailover mode %s parallel" % USER)
    wait_steady(b, "parallel", 10)
    for ip in (S2, S3):
        wait_register_ok(lab, ip, t)


def test_status_table_and_no_password(lab):
    secret = "Pw-s3cr3t-42"
    b, kams = start(lab, srvfailover=config(
        "cisco", server_params="auth_pass=%s;regint=60" % secret))
    wait_steady(b, "cisco")

    outputs = {}
    for cmd in ("srvfailover status", "srvfailover", "srvfailover json"):
        outputs[cmd] = command(b, cmd)
    table = outputs["srvfailover status"]
    for want in ["100"] + SERVERS + ["Registered", "Reachable"]:
        assert want in table, "status table lacks %r:\n%s" % (want, table)
    assert outputs["srvfailover"].strip(), "bare command printed nothing"
    command(b, "srvfailover disable %s 3" % USER)
    wait_status(b, "server 3 Deactivated", states_are({3: "Deactivated"}), 5)
    outputs["after disable"] = command(b, "srvfailover status")

    leaks = [k for k, v in outputs.items() if secret in v]
    leaks += ["log: " + l for l in srvfailover_lines(b) if secret in l]
    assert not leaks, "the password shows in: %s" % leaks
