"""Runs the fault-matrix scenarios that need the lab, through the e2e
runner (test/e2e/runner.py: a namespace, a lab and a timeout per
scenario; imported, not changed).

  soak.py --module /abs/srvfailover.so [--keep] [--list] GROUP|NAME ...

GROUP `valgrind`: valgrind_e2e.valgrind_cisco; `soak`: every soak_*
function of test/soak/soak_*.py. A NAME or shell pattern picks single
scenarios. Prints PASS/FAIL per scenario, then `N passed, N failed`.
"""

import argparse
import fnmatch
import importlib
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.abspath(os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
sys.path.insert(0, E2E)
sys.dont_write_bytecode = True

import runner  # noqa: E402
import lab as L  # noqa: E402


def discover():
    out = [("valgrind_e2e", "valgrind_cisco", "valgrind")]
    for f in sorted(os.listdir(HERE)):
        if f.startswith("soak_") and f.endswith(".py"):
            mod = importlib.import_module(f[:-3])
            funcs = [(n, o) for n, o in vars(mod).items()
                     if n.startswith("soak_") and callable(o) and
                     getattr(o, "__module__", None) == f[:-3]]
            funcs.sort(key=lambda x: x[1].__code__.co_firstlineno)
            out += [(f[:-3], n, "soak") for n, _ in funcs]
    return out


def main():
    ap = argparse.ArgumentParser(prog="test/soak/run")
    ap.add_argument("--module", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()

    chosen = []
    for stem, name, group in discover():
        if any(n == group or n == stem or fnmatch.fnmatchcase(name, n)
               for n in args.names):
            chosen.append((stem, name))
    if not chosen:
        print("nothing matches %s" % " ".join(args.names), file=sys.stderr)
        return 2
    if args.list:
        for stem, name in chosen:
            print("%s  (%s.py)" % (name, stem))
        return 0
    if os.geteuid() != 0:
        print("test/soak/run needs root (unshare -n)", file=sys.stderr)
        return 2

    # the runner's child (runner.py --single) imports the scenario by name
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [HERE, E2E] + [p for p in os.environ.get("PYTHONPATH", "").split(
            os.pathsep) if p])
    L.become_subreaper()
    passed = failed = 0
    for stem, name in chosen:
        mod = importlib.import_module(stem)
        func = getattr(mod, name)
        t = time.monotonic()
        fd, report = tempfile.mkstemp(prefix="sfo-soak-report-")
        os.close(fd)
        os.environ["SFO_SOAK_REPORT"] = report
        try:
            ok = runner.run_one(stem, name, func,
                                os.path.abspath(args.module), args.keep)
            with open(report) as f:
                for line in f:
                    print("    " + line.rstrip(), flush=True)
        finally:
            os.unlink(report)
        print("    (%s: %.0fs)" % (name, time.monotonic() - t), flush=True)
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
