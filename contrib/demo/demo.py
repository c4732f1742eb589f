"""srvfailover demo, run by demo.sh inside `unshare -n` (see there).

Uses the end-to-end lab (test/e2e/lab.py) for the servers and baresip.
"""

import os
import re
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "test", "e2e"))
sys.dont_write_bytecode = True

import lab as L  # noqa: E402
from common import SERVERS, USER, config, registered_on  # noqa: E402


def say(text):
    print(text, flush=True)


def follow(b, stop):
    """Print baresip's `srvfailover:` lines as they are written."""
    pos = 0
    while not stop.is_set():
        text = b.log_text()
        new, pos = text[pos:], len(text)
        for line in new.splitlines():
            if "srvfailover:" in line:
                say("   | " + line.strip())
        stop.wait(0.2)


def status(b):
    say(b.command("srvfailover status").rstrip())


def watch(seconds):
    say("== watching for %d s (probes go on)" % seconds)
    time.sleep(seconds)


def wait(b, what, check, timeout):
    t = time.time()
    try:
        L.wait_for(lambda: check(L.line_of(b.status(), USER) or {}),
                   timeout, what, interval=0.2)
    except L.LabError as e:
        say("!! %s" % e)
        return False
    time.sleep(0.3)  # let the log lines of the switch show first
    say("== %s: after %.1f s" % (what, time.time() - t))
    return True


def main(module):
    L.net_up()
    directory = tempfile.mkdtemp(prefix="srvfailover-demo-")
    ok = True
    stop = threading.Event()
    with L.Lab(directory, module) as lab:
        say("== starting three SIP servers (kamailio): %s" %
            ", ".join(SERVERS))
        kams = {ip: lab.kamailio(ip) for ip in SERVERS}
        text = config("cisco")
        say("== starting baresip with srvfailover, cisco mode; its "
            "srvfailover file:")
        for line in text.splitlines():  # never a password on screen
            say("   " + re.sub(r"(auth_pass=)[^;]*", r"\1********", line))
        b = lab.baresip(module, srvfailover=text)
        threading.Thread(target=follow, args=(b, stop), daemon=True).start()
        ok &= wait(b, "registered on the main server", lambda l:
                   registered_on("cisco", 1)(l) and
                   all(s.get("state") == "Reachable"
                       for s in l["servers"][1:]), 20)
        status(b)
        watch(5)

        say("== stopping main server %s (kill -9)" % SERVERS[0])
        kams[SERVERS[0]].kill()
        ok &= wait(b, "switched to server 2", registered_on("cisco", 2), 30)
        status(b)
        watch(5)

        say("== starting main server %s again" % SERVERS[0])
        kams[SERVERS[0]].start()
        ok &= wait(b, "back on server 1", registered_on("cisco", 1), 30)
        time.sleep(1)
        status(b)

        say("== stopping everything")
        stop.set()
    subprocess.run(["rm", "-rf", directory])
    say("== demo %s" % ("done" if ok else "FAILED (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
