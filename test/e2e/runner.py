"""Runs the end-to-end tests, each in its own network namespace and lab.

Called by test/e2e/run (which installs what is missing first):

  run --module /abs/path/srvfailover.so [--keep] [--list] [NAME ...]

NAME selects tests: a test function name (test_cisco_startup), a file
name without .py (test_cisco: all its tests), or a shell pattern
('test_*_startup'). No NAME: every test, test_lab_smoke first.

Each test function test_x(lab) of test/e2e/test_*.py runs in a child
`unshare -n` process (this file again, with --single) that brings lo up,
builds a fresh lab.Lab in a temp dir, runs the function and tears the lab
down. Output: one line per test, `PASS name` or `FAIL name: reason` (then,
indented, the reason's details and the tail of baresip's log), and last
exactly one line `N passed, N failed`. Exit status 1 if any failed.
A test may set `timeout` (seconds) on its function; default 150, and
`needs = (VARIABLE, what)`: without that environment variable it is
listed as `SKIP name: needs what` and not counted; `baresip = "1.1.0"`:
only against that baresip version (SKIP otherwise).
"""

import argparse
import fnmatch
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import lab as L  # noqa: E402

DEFAULT_TIMEOUT = 150
FIRST = ["test_lab_smoke"]


def discover():
    """[(file stem, function name, function)] in run order."""
    stems = sorted(f[:-3] for f in os.listdir(HERE)
                   if f.startswith("test_") and f.endswith(".py"))
    stems = [s for s in FIRST if s in stems] + \
        [s for s in stems if s not in FIRST]
    out = []
    for stem in stems:
        mod = importlib.import_module(stem)
        funcs = [(name, obj) for name, obj in vars(mod).items()
                 if name.startswith("test_") and callable(obj) and
                 getattr(obj, "__module__", None) == stem]
        funcs.sort(key=lambda f: f[1].__code__.co_firstlineno)
        out += [(stem, name, f) for name, f in funcs]
    return out


def select(tests, names):
    if not names:
        return tests, []
    chosen, unknown = [], []
    for n in names:
        hit = [t for t in tests if n in (t[0], t[1]) or
               fnmatch.fnmatchcase(t[1], n) or fnmatch.fnmatchcase(t[0], n)]
        if not hit:
            unknown.append(n)
        chosen += [t for t in hit if t not in chosen]
    return [t for t in tests if t in chosen], unknown


# --------------------------------------------------------------------------
# the child: one test in its own namespace


def run_single(spec, directory, module):
    stem, name = spec.split("::")
    func = getattr(importlib.import_module(stem), name)
    result = {"ok": False, "reason": "did not finish"}

    def on_term(signum, frame):
        raise SystemExit("stopped by signal %d (test timeout)" % signum)

    signal.signal(signal.SIGTERM, on_term)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True,
                   timeout=10)
    lab = L.Lab(directory, module)
    try:
        func(lab)
        result = {"ok": True, "reason": ""}
    except (L.LabError, AssertionError) as e:
        result = {"ok": False, "reason": str(e) or type(e).__name__}
    except SystemExit as e:
        result = {"ok": False, "reason": str(e)}
    except Exception as e:
        result = {"ok": False, "reason": "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc())}
    finally:
        try:
            lab.close()
        except L.LabError as e:  # baresip crashed: a failure in any case
            result["reason"] = ("%s\n%s" % (e, result["reason"])).strip()
            result["ok"] = False
        except Exception as e:
            result["reason"] += "\n(lab cleanup: %s)" % e
        with open(os.path.join(directory, "result.json"), "w") as f:
            json.dump(result, f)
    return 0 if result["ok"] else 1


# --------------------------------------------------------------------------
# the parent


def tail(path, n):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in lines]
    return [l for l in lines if l.strip()][-n:]


def run_one(stem, name, func, module, keep):
    # short: kamailio's control socket path must fit in 104 bytes
    directory = tempfile.mkdtemp(prefix="sfo-e2e-")
    with open(os.path.join(directory, "test"), "w") as f:
        f.write(name + "\n")
    timeout = getattr(func, "timeout", DEFAULT_TIMEOUT)
    argv = ["unshare", "-n", sys.executable, os.path.abspath(__file__),
            "--single", "%s::%s" % (stem, name), "--dir", directory]
    if module:
        argv += ["--module", module]
    started = time.monotonic()
    with open(os.path.join(directory, "runner.log"), "wb") as log:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT,
                                 cwd=HERE)
        try:
            child.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            child.send_signal(signal.SIGTERM)  # lets the lab clean up
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                L.kill_tree(child.pid)
                child.wait(5)
    took = time.monotonic() - started
    L.reap()
    try:
        with open(os.path.join(directory, "result.json")) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = {"ok": False, "reason": "test process ended (%s) without "
                  "a result" % child.returncode}
    if timed_out:
        result = {"ok": False, "reason": "timed out after %ds; %s" % (
            timeout, result["reason"])}
    if result["ok"]:
        print("PASS %s" % name, flush=True)
        if not keep:
            subprocess.run(["rm", "-rf", directory])
        return True
    reason = result["reason"].strip().splitlines() or ["?"]
    out = ["FAIL %s: %s" % (name, reason[0])]
    out += ["    " + l for l in reason[1:]]
    blog = os.path.join(directory, "baresip.log")
    if os.path.exists(blog):
        out.append("    --- %s (last 30 lines) ---" % blog)
        out += ["    " + l for l in tail(blog, 30)]
    rlog = tail(os.path.join(directory, "runner.log"), 15)
    if rlog:
        out.append("    --- test process output (last 15 lines) ---")
        out += ["    " + l for l in rlog]
    out.append("    lab of %s kept in %s (%.0fs)" % (name, directory, took))
    print("\n".join(out), flush=True)
    return False


def skipped(func, version):
    """Why a test does not run here, or None."""
    needs = getattr(func, "needs", None)
    if needs and not os.environ.get(needs[0]):
        return "needs %s (%s)" % (needs[1], needs[0])
    only = getattr(func, "baresip", None)
    if only and only != version:
        return "baresip %s only (this is %s)" % (only, version)
    return None


def main():
    ap = argparse.ArgumentParser(
        prog="test/e2e/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", help="built srvfailover.so (absolute)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the lab dirs of passed tests too")
    ap.add_argument("--list", action="store_true", help="list tests")
    ap.add_argument("--single", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("names", nargs="*", help="tests, files or patterns")
    args = ap.parse_args()
    module = os.path.abspath(args.module) if args.module else None

    if args.single:
        return run_single(args.single, args.dir, module)

    tests, unknown = select(discover(), args.names)
    if unknown:
        print("unknown test(s): %s" % " ".join(unknown), file=sys.stderr)
        return 2
    if args.list:
        for stem, name, _ in tests:
            print("%s  (%s.py)" % (name, stem))
        return 0
    if os.geteuid() != 0:
        print("test/e2e/run needs root (unshare -n)", file=sys.stderr)
        return 2
    L.become_subreaper()  # what a killed test leaves is ours to reap
    passed = failed = 0
    version = L.baresip_version()
    for stem, name, func in tests:
        skip = skipped(func, version)
        if skip:
            print("SKIP %s: %s" % (name, skip), flush=True)
            continue
        if run_one(stem, name, func, module, args.keep):
            passed += 1
        else:
            failed += 1
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
