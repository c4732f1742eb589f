"""Runs the end-to-end tests, each in its own network namespace and lab,
several at once.

Called by test/e2e/run (which installs what is missing first):

  run (--module /abs/srvfailover.so | --target SPEC...) [-j N] [--keep]
      [--list] [NAME ...]

NAME selects tests: a test function name (test_cisco_startup), a file
name without .py (test_cisco: all its tests), or a shell pattern
('test_*_startup'). No NAME: every test.

A target is one baresip the tests run against (test/run-all.sh gives
bookworm's, trixie's and upstream's): --target name=N,module=PATH
[,system=SUITE|,prefix=DIR][,ready=FILE], see Target. Every test runs
against every target, N at once (-j, default SFO_E2E_JOBS, else 4x the
cores; -j1: one at a time),
the longest first (Times). Each test function test_x(lab) of
test/e2e/test_*.py runs in a child `unshare -n` process (this file again,
with --single; inside that target's Debian system's mount namespace when
it has one) that brings lo up, builds a fresh lab.Lab in a temp dir, runs
the function and tears the lab down.

Output, in the order of the targets and of the tests in their files,
whatever order they ran in: a title per target, one line per test, `PASS
name (Ns)` or `FAIL name: reason` (then, indented, the reason's details,
the tail of baresip's log and of the test process's output, and the lab
dir kept with its evidence), and last exactly one line `N passed, N
failed`. Exit status 1 if any failed. A test may set `timeout` (seconds)
on its function; default 150, and `needs = (VARIABLE, what)`: without
that environment variable it is listed as `SKIP name: needs what` and not
counted; `baresip = "1.1.0"`: only against that baresip version (SKIP
otherwise).
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
ROOT_SH = os.path.join(HERE, "..", "debian", "root.sh")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import lab as L  # noqa: E402

DEFAULT_TIMEOUT = 150
FIRST = ["test_lab_smoke"]  # listed first


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
    L.net_up()
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
# the parent: a pool of tests, several targets, results in a stable order


class Target:
    """One baresip the tests run against.

    --target name=N,module=PATH[,system=SUITE|,prefix=DIR][,ready=FILE]
    system: the Debian system (test/debian/root.sh SUITE test) whose
    baresip runs, each test then in that system's mount namespace;
    prefix: where upstream's baresip is installed (test/upstream);
    ready: its tests wait until FILE exists; it holds "ok", or why the
    target cannot run (run-all.sh prepares trixie and upstream
    meanwhile).
    """

    def __init__(self, spec):
        kv = dict(item.split("=", 1) for item in spec.split(",") if item)
        unknown = set(kv) - {"name", "module", "system", "prefix",
                             "ready"}
        if unknown or "module" not in kv:
            raise SystemExit("bad --target %r (name=,module=,system=,"
                             "prefix=,ready=)" % spec)
        self.name = kv.get("name", "")
        self.module = os.path.abspath(kv["module"])
        self.system = kv.get("system", "")
        self.prefix = kv.get("prefix", "")
        self.ready_file = kv.get("ready")
        self.other = None     # another target (test_versions loads its
                              # build)
        self.version = None   # known once ready
        self.broken = None    # why it cannot run
        self.root = ""
        if self.system:
            self.root = subprocess.run(
                [ROOT_SH, "path", self.system, "test"], check=True,
                capture_output=True, text=True).stdout.strip()

    def ready(self):
        """True once its tests can start (or it is broken)."""
        if self.version is not None or self.broken:
            return True
        if self.ready_file:
            try:
                with open(self.ready_file) as f:
                    state = f.read().strip()
            except OSError:
                return False
            if state != "ok":
                self.broken = state or "not prepared"
                return True
        self.version = L.baresip_version(self.root, self.prefix)
        return True

    def argv(self):
        """What a test's child process starts with."""
        if self.system:
            return [ROOT_SH, "enter", self.system, "test"]
        return []

    def env(self):
        env = dict(os.environ, SFO_BARESIP_ROOT=self.root,
                   SFO_BARESIP_PREFIX=self.prefix)
        env.pop("SFO_OTHER_MODULE", None)
        if self.other:
            env["SFO_OTHER_MODULE"] = self.other.module
            env["SFO_OTHER_UPSTREAM"] = "1" if self.other.prefix else ""
        return env

    def title(self):
        return "end-to-end, %s (baresip %s):" % (self.name, self.version)


class Job:
    """One test against one target: its lab dir, process and result."""

    def __init__(self, target, stem, name, func):
        self.target, self.stem, self.name, self.func = \
            target, stem, name, func
        self.timeout = getattr(func, "timeout", DEFAULT_TIMEOUT)
        self.popen = self.text = None
        self.ok = self.skip = False
        self.term_at = None

    def start(self, keep):
        # short: kamailio's control socket path must fit in 104 bytes
        self.dir = tempfile.mkdtemp(prefix="sfo-e2e-")
        self.keep = keep
        with open(os.path.join(self.dir, "test"), "w") as f:
            f.write("%s %s\n" % (self.target.name, self.name))
        argv = self.target.argv() + [
            "unshare", "-n", sys.executable, os.path.abspath(__file__),
            "--single", "%s::%s" % (self.stem, self.name),
            "--dir", self.dir, "--module", self.target.module]
        self.started = time.monotonic()
        with open(os.path.join(self.dir, "runner.log"), "wb") as log:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=HERE, env=self.target.env())

    def poll(self, now):
        """True once the test process has ended (stopped at its timeout:
        SIGTERM lets the lab clean up, SIGKILL 15 s later)."""
        if self.popen.poll() is not None:
            return True
        if self.term_at is None and now > self.started + self.timeout:
            self.term_at = now
            self.popen.send_signal(signal.SIGTERM)
        elif self.term_at is not None and now > self.term_at + 15:
            L.kill_tree(self.popen.pid)
            self.popen.wait(5)
            return True
        return False

    def finish(self):
        took = time.monotonic() - self.started
        try:
            with open(os.path.join(self.dir, "result.json")) as f:
                result = json.load(f)
        except (OSError, ValueError):
            result = {"ok": False, "reason": "test process ended (%s) "
                      "without a result" % L.exit_text(
                          self.popen.returncode)}
        if self.term_at is not None:
            result = {"ok": False, "reason": "timed out after %ds; %s" % (
                self.timeout, result["reason"])}
        self.ok = result["ok"]
        TIMES.took(self, took)
        if self.ok:
            self.text = "PASS %s (%.0fs)" % (self.name, took)
            if not self.keep:
                subprocess.run(["rm", "-rf", self.dir])
            return
        self.text = "\n".join(self.failure(result["reason"], took))

    def failure(self, reason, took):
        reason = reason.strip().splitlines() or ["?"]
        out = ["FAIL %s: %s" % (self.name, reason[0])]
        out += ["    " + l for l in reason[1:]]
        blog = os.path.join(self.dir, "baresip.log")
        if os.path.exists(blog):
            out.append("    --- %s (last 30 lines) ---" % blog)
            out += ["    " + l for l in tail(blog, 30)]
        rlog = tail(os.path.join(self.dir, "runner.log"), 15)
        if rlog:
            out.append("    --- test process output (last 15 lines) ---")
            out += ["    " + l for l in rlog]
        out.append("    lab of %s (%s) kept in %s (%.0fs)" % (
            self.name, self.target.name or "baresip", self.dir, took))
        return out


def tail(path, n):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in lines]
    return [l for l in lines if l.strip()][-n:]


def skipped(func, target):
    """Why a test does not run against target, or None."""
    needs = getattr(func, "needs", None)
    if needs and not target.env().get(needs[0]):
        return "needs %s (%s)" % (needs[1], needs[0])
    only = getattr(func, "baresip", None)  # a version, or a tuple
    only = (only,) if isinstance(only, str) else only
    if only and target.version not in only:
        return "baresip %s only (this is %s)" % (" and ".join(only),
                                                   target.version)
    return None


def needs_other(func):
    return getattr(func, "needs", (None,))[0] == "SFO_OTHER_MODULE"


class Pool:
    """Runs jobs, at most `width` at once, and prints their results in the
    order of `jobs` (each test's lines whole), targets' titles between."""

    def __init__(self, jobs, width, keep):
        self.jobs, self.width, self.keep = jobs, max(1, width), keep
        self.running, self.printed, self.title = [], 0, None

    def startable(self, job):
        t = job.target
        if not t.ready():
            return False
        if t.broken:
            job.text = ""  # said once, in its title
            return True
        if t.other and needs_other(job.func):
            if not t.other.ready():
                return False
            if t.other.broken:
                t = None
        skip = skipped(job.func, t) if t else \
            "the build for the other baresip is missing"
        if skip:
            job.skip, job.text = True, "SKIP %s: %s" % (job.name, skip)
        return True

    def step(self, pending):
        now = time.monotonic()
        for job in [j for j in self.running if j.poll(now)]:
            self.running.remove(job)
            job.finish()
        reap_orphans([j.popen.pid for j in self.running])
        for job in list(pending):
            if len(self.running) >= self.width:
                break
            if not self.startable(job):
                continue
            pending.remove(job)
            if job.text is None:
                job.start(self.keep)
                self.running.append(job)
        self.flush()

    def flush(self):
        while self.printed < len(self.jobs) and \
                self.jobs[self.printed].text is not None:
            job = self.jobs[self.printed]
            if job.target is not self.title:
                self.title = job.target
                if job.target.broken:
                    print("FAIL %s: %s: its tests did not run" % (
                        job.target.name, job.target.broken), flush=True)
                elif job.target.name:
                    print(job.target.title(), flush=True)
            if job.text:
                print(job.text, flush=True)
            self.printed += 1

    def run(self):
        # the longest first, so that none is left to run alone at the end
        pending = sorted(self.jobs, key=lambda j: -TIMES.expected(j))
        while pending or self.running:
            self.step(pending)
            time.sleep(0.1)
        self.flush()

    def stop(self):
        for job in self.running:
            L.kill_tree(job.popen.pid)


class Times:
    """How long each test took last time (a cache of this machine's, kept
    beside its Debian systems): the pool starts the longest first."""

    FILE = os.environ.get("SFO_E2E_TIMES",
                          "/var/cache/srvfailover/e2e-times.json")
    UNKNOWN = 10.0  # s, a test never timed here

    def __init__(self):
        try:
            with open(self.FILE) as f:
                self.seen = json.load(f)
        except (OSError, ValueError):
            self.seen = {}

    @staticmethod
    def key(job):
        return "%s %s" % (job.target.name, job.name)

    def expected(self, job):
        return self.seen.get(self.key(job), self.UNKNOWN)

    def took(self, job, seconds):
        self.seen[self.key(job)] = round(seconds, 1)

    def save(self):
        try:
            os.makedirs(os.path.dirname(self.FILE), exist_ok=True)
            with open(self.FILE + ".new", "w") as f:
                json.dump(self.seen, f, indent=0, sort_keys=True)
            os.replace(self.FILE + ".new", self.FILE)
        except OSError as e:
            print("(test times not saved: %s)" % e, file=sys.stderr)


TIMES = Times()


def reap_orphans(ours):
    """Collect what killed tests left to us (their subreaper), never a
    test process of ours (its Popen collects it)."""
    me = str(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in ours:
            continue
        st = L.proc_stat(int(name))
        if st and st[0] == "Z" and str(st[1]) == me:
            try:
                os.waitpid(int(name), os.WNOHANG)
            except ChildProcessError:
                pass


def default_jobs():
    return 4 * (os.cpu_count() or 1)


def main():
    ap = argparse.ArgumentParser(
        prog="test/e2e/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", help="built srvfailover.so (absolute)")
    ap.add_argument("--target", action="append", default=[],
                    help="name=N,module=PATH[,system=SUITE|,prefix=DIR]"
                    "[,ready=FILE]")
    ap.add_argument("-j", "--jobs", type=int, default=int(
        os.environ.get("SFO_E2E_JOBS") or default_jobs()),
        help="tests at once (default SFO_E2E_JOBS, else 4x the cores)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the lab dirs of passed tests too")
    ap.add_argument("--list", action="store_true", help="list tests")
    ap.add_argument("--single", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("names", nargs="*", help="tests, files or patterns")
    args = ap.parse_args()

    if args.single:
        module = os.path.abspath(args.module) if args.module else None
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
    targets = [Target(t) for t in args.target]
    if args.module:
        targets.insert(0, Target("module=" + args.module))
    if not targets:
        print("test/e2e/run: --module or --target", file=sys.stderr)
        return 2
    if len(targets) == 1 and os.environ.get("SFO_OTHER_MODULE"):
        targets[0].other = Target("module=" + os.environ[
            "SFO_OTHER_MODULE"])
    elif len(targets) > 1:  # each loads another one's build: the
        # Debian ones each other's, upstream's a Debian one's
        for i, t in enumerate(targets):
            rest = targets[i + 1:] + targets[:i]
            t.other = next((o for o in rest if not o.prefix), rest[0])
    jobs = [Job(t, *test) for t in targets for test in tests]
    L.become_subreaper()  # what a killed test leaves is ours to reap
    pool = Pool(jobs, args.jobs, args.keep)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        pool.run()
    finally:
        pool.stop()
        TIMES.save()
    passed = sum(j.ok for j in jobs)
    failed = sum(bool(j.text) and not (j.ok or j.skip) for j in jobs) + \
        sum(bool(t.broken) for t in targets)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
