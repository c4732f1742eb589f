#!/usr/bin/env python3
"""Waits until a server of the first line has a state, asking baresip
through the installed srvfailover-ctl (its own python3, its ctrl_tcp):

    wait_state.py TIMEOUT PRIO STATE [PRIO STATE ...] -- CTL_COMMAND...

e.g. wait_state.py 20 1 Registered -- chroot ROOT srvfailover-ctl json
A PRIO of "working" names the line's working server instead:
wait_state.py 20 working 2 2 Registered -- ...
Prints the states it saw last; exit 0 when all matched in time, else 1.
"""
import json
import subprocess
import sys
import time


def main(argv):
    sep = argv.index("--")
    timeout = float(argv[0])
    want = dict(zip(argv[1:sep:2], argv[2:sep:2]))
    ctl = argv[sep + 1:]
    deadline = time.monotonic() + timeout
    seen = "nothing"
    while True:
        r = subprocess.run(ctl, capture_output=True, text=True, timeout=10)
        try:
            line = json.loads(r.stdout)["lines"][0]
            got = {str(s["prio"]): s["state"] for s in line["servers"]}
            seen = ", ".join("%s:%s" % kv for kv in sorted(got.items()))
            if "working" in want:
                got["working"] = str(line.get("working"))
                seen += ", working %s" % got["working"]
            if all(got.get(p) == s for p, s in want.items()):
                print("states: " + seen)
                return 0
        except (ValueError, KeyError, IndexError):
            seen = (r.stdout + r.stderr).strip()[-200:] or "no answer"
        if time.monotonic() >= deadline:
            print("after %gs, states: %s" % (timeout, seen))
            return 1
        time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
