"""/srvfailover reload (issue 18): the srvfailover file read again and
what changed applied, checked on the wire and in the JSON.

A server whose text in the file did not change keeps its state and
registration, and nothing is sent to it because of the reload; a new
server starts as its mode wants, a removed one is un-REGISTERed and
goes, a changed one both; a line in a call waits for its end; a file
with an error changes nothing.
"""

import os
import time

import lab as L
from common import (PW, SERVERS, config, start, wait_status, wait_steady,
                    wait_unregister)

FOURTH = "127.0.0.5"


def registers(lab, ip, since, unregister=False):
    return [m for m in L.requests(lab.wire(), "REGISTER", src=L.PHONE,
                                  dst=ip)
            if m.t >= since and m.is_unregister == unregister]


def server_line(ip, params="regint=60"):
    return "<sip:100@%s;transport=udp>;%s;auth_pass=%s\n" % (ip, params,
                                                            PW)


def reload(b, text):
    """Write the file, reload; the answer."""
    b.write("srvfailover", text)
    return b.command("srvfailover reload")


def figures(line):
    return {s["prio"]: (s["uri"], s["state"], s["since_s"] // 5,
                        s["failures"]) for s in line["servers"]}


def test_reload_unchanged_file_sends_nothing(lab):
    b, _ = start(lab, "parallel")
    wait_steady(b, "parallel")
    before = b.status()["lines"][0]
    t = time.time()
    answer = reload(b, config("parallel"))
    assert "1 unchanged, 0 changed, 0 new, 0 removed" in answer, answer
    time.sleep(2)
    for ip in SERVERS:
        assert not registers(lab, ip, t) and \
            not registers(lab, ip, t, True), "REGISTER to %s" % ip
    after = b.status()["lines"][0]
    assert figures(after) == figures(before), (before, after)


def test_reload_adds_removes_and_changes_servers(lab):
    b, kams = start(lab, "parallel", servers=SERVERS + [FOURTH])
    wait_steady(b, "parallel")
    t = time.time()
    # server 1 as it was; 2 gone; 3 with another regint; a new fourth
    text = config("parallel", servers=[SERVERS[0]]) + \
        server_line(SERVERS[2], "regint=120") + server_line(FOURTH)
    answer = reload(b, text)
    assert "0 unchanged, 1 changed" in answer, answer

    wait_unregister(lab, SERVERS[1], t)
    wait_unregister(lab, SERVERS[2], t)
    line = wait_status(
        b, "servers 1, the changed 3 and the new one registered",
        lambda l: [(s["uri"], s["state"]) for s in l["servers"]] == [
            ("sip:" + SERVERS[0], "Registered*"),
            ("sip:" + SERVERS[2], "Registered"),
            ("sip:" + FOURTH, "Registered")], 10)
    assert registers(lab, FOURTH, t), "no REGISTER to the new server"
    assert registers(lab, SERVERS[2], t), "no REGISTER to the changed one"
    assert not registers(lab, SERVERS[0], t) and \
        not registers(lab, SERVERS[0], t, True), \
        "server 1 did not change, yet got a REGISTER"
    L.wait_for(lambda: not kams[SERVERS[1]].contacts("100"), 5,
               "server 2 to forget the phone")
    assert line["working"] == 1


def test_reload_invalid_file_changes_nothing(lab):
    b, _ = start(lab, "cisco")
    wait_steady(b, "cisco")
    before = b.status()["lines"][0]
    t = time.time()
    answer = reload(b, config("cisco").replace("sfo_mode=cisco",
                                               "sfo_mode=fast"))
    assert "sfo_mode: unknown mode 'fast'" in answer, answer
    assert "reload: nothing changed (1 error)" in answer, answer
    assert PW not in answer
    time.sleep(1)
    after = b.status()["lines"][0]
    assert after["mode"] == "cisco" and figures(after) == figures(before)
    assert not any(registers(lab, ip, t) for ip in SERVERS)


def test_reload_new_line_and_removed_line(lab):
    b, _ = start(lab, "cisco")
    wait_steady(b, "cisco")
    t = time.time()
    answer = reload(b, config("cisco", user="101"))
    assert "1 new, 1 removed" in answer, answer
    wait_unregister(lab, SERVERS[0], t)
    wait_status(b, "line 101 working on server 1",
                lambda l: l.get("working") == 1, 10, user="101")
    status = b.status()
    assert [x["user"] for x in status["lines"]] == ["101"], status
    assert "srvfailover: 100: gone from the file" in \
        "\n".join(b.lines("gone from the file"))


def test_reload_waits_for_the_call_to_end(lab):
    b, _ = start(lab, "cisco")
    wait_steady(b, "cisco")
    t = time.time()
    b.command("dial 200")
    b.ctrl.wait_event("CALL_ESTABLISHED", 10, since=t)

    t = time.time()
    answer = reload(b, config("cisco", servers=SERVERS[1:]))
    assert "1 waiting for a call to end" in answer, answer
    time.sleep(1.5)
    assert not registers(lab, SERVERS[0], t, True), \
        "server 1 un-REGISTERed during the call"
    assert b.status()["lines"][0]["working"] == 1
    assert not b.ctrl.events_of("CALL_CLOSED", t), "the call ended"

    t_hang = time.time()
    b.command("hangup")
    b.ctrl.wait_event("CALL_CLOSED", 5, since=t_hang)
    wait_unregister(lab, SERVERS[0], t_hang)
    wait_status(b, "the change applied after the call",
                lambda l: [s["uri"] for s in l["servers"]] ==
                ["sip:" + ip for ip in SERVERS[1:]] and l["working"] == 1,
                15)


def test_reload_from_the_web_page_needs_the_password(lab):
    """POST /reload: without credentials 401 and nothing read; with the
    password the file is applied (the answer is the command's); a file
    with an error: 422, nothing changed."""
    import test_web as W
    b, _ = start(lab, "cisco", extra=W.WITH_PASSWORD)
    wait_steady(b, "cisco")
    b.write("srvfailover", config("cisco", servers=SERVERS[:2]))

    st, _, _ = W.request("POST", "/reload")
    assert st == 401, st
    time.sleep(0.5)
    assert len(b.status()["lines"][0]["servers"]) == 3

    st, text, _ = W.post_authorized("/reload")
    assert st == 200, (st, text)
    assert "0 unchanged, 1 changed" in text, text
    assert len(b.status()["lines"][0]["servers"]) == 2

    b.write("srvfailover", config("cisco").replace("regint=60",
                                                   "regint=5"))
    st, text, _ = W.post_authorized("/reload")
    assert st == 422 and "nothing changed" in text, (st, text)
    assert "regint: 5 is out of range" in text, text
    assert PW not in text
    assert len(b.status()["lines"][0]["servers"]) == 2


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmRSS"))


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_reload_100_times_no_leak_no_stray_register(lab):
    """100 reloads that take server 3 away and give it back (a user
    agent destroyed and made each time), then 100 of the same file:
    descriptors and memory flat, no REGISTER to any server (server 3 is
    only checked in cisco mode; server 1 never changed)."""
    b, _ = start(lab, "cisco")
    wait_steady(b, "cisco")
    full, short = config("cisco"), config("cisco", servers=SERVERS[:2])

    def reloads(n, texts):
        for i in range(n):
            answer = reload(b, texts[i % len(texts)])
            assert "nothing changed" not in answer, answer

    reloads(20, [short, full])          # the allocator settles
    pid = b.pid
    rss0, fd0 = rss_kb(pid), fds(pid)
    t = time.time()
    reloads(100, [short, full])
    reloads(100, [full])
    rss1, fd1 = rss_kb(pid), fds(pid)
    print("RSS %d -> %d kB, descriptors %d -> %d" % (rss0, rss1, fd0, fd1))
    assert fd1 <= fd0, "descriptors %d -> %d" % (fd0, fd1)
    assert rss1 - rss0 < 128, "RSS grew by %d kB" % (rss1 - rss0)
    for ip in SERVERS:
        assert not registers(lab, ip, t) and \
            not registers(lab, ip, t, True), "REGISTER to %s" % ip
    wait_steady(b, "cisco")
