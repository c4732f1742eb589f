"""What `make bench` needs beyond the e2e lab (test/e2e/lab.py, used
read-only): several baresips in one lab, a poller of `srvfailover json`,
failure injection by kind, /proc figures and wire figures per phone.

Every process is one this lab started (tracked by pid); every wait is
bounded. Python 3.11 standard library only.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.dont_write_bytecode = True  # nothing written into test/e2e
sys.path.insert(0, os.path.join(TOP, "test", "e2e"))

import lab as L  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")

# failure kinds: key -> (label, transport of the servers)
KINDS = {
    "503": ("503 Service Unavailable", "udp"),
    "tcp": ("TCP refused (kill -9, tcp)", "tcp"),
    "icmp": ("ICMP unreachable (kill -9, udp)", "udp"),
    "hang": ("silent: hung (SIGSTOP)", "udp"),
    "drop": ("silent: dropped (nft drop)", "udp"),
}
SILENT = ("hang", "drop")
FIRST_UID = 61000  # baresip 4.x phones' users (BenchLab.own_route)


def run_checked(*argv):
    """Run a command of the lab (ip, nft); its stdout, or LabError with
    what it said."""
    r = run_quiet(list(argv))
    if r.returncode:
        raise L.LabError("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r.stdout


class Phone(L.Proc):
    """/usr/bin/baresip with its own name, SIP address and ctrl_tcp port,
    so that several run in one lab (lab.Baresip has one fixed dir).
    Built on lab.Proc and lab.Ctrl only."""

    def __init__(self, lab, name, ip, ctrl_port, user, module=None,
                 srvfailover="", accounts="", extra=(), contacts=""):
        self.name_, self.ip = name, ip
        L.phone_address(ip)
        # its SIP user(s): an int/str, or a list of them (many lines)
        users = user if isinstance(user, (list, tuple)) else [user]
        self.users = set(str(u) for u in users)
        self.user = str(users[0]) if users else None
        self.confdir = lab.path("phone-" + name)
        self.moddir = os.path.join(self.confdir, "modules")
        os.makedirs(self.moddir, exist_ok=True)
        L.link_stock_modules(self.moddir)
        if L.BARESIP_PREFIX:
            self.uid = lab.own_route(ip)
        if module and self.uid is not None:  # may not read the tree
            shutil.copy(module, os.path.join(self.moddir, "srvfailover.so"))
        elif module:  # bench.py hands a copy that nobody rebuilds
            os.symlink(os.path.abspath(module),
                       os.path.join(self.moddir, "srvfailover.so"))
        self.module = module
        self.listen = "%s:5060" % ip
        self.ctrl_addr = "127.0.0.1:%d" % ctrl_port
        config = L.baresip_config(self.moddir, self.listen, ip,
                                  self.ctrl_addr)
        if module:
            config += "module_app srvfailover.so\n"
        config += "".join(x + "\n" for x in extra)
        self.write("config", config)
        self.write("accounts", accounts)
        self.write("srvfailover", srvfailover)
        self.write("contacts", contacts)
        self.ctrl = None
        self.died = None
        super().__init__(lab, "baresip " + name,
                         L.baresip_argv(self.confdir),
                         lab.path("phone-%s.log" % name))

    def write(self, name, text):
        if text and not text.endswith("\n"):
            text += "\n"
        with open(os.path.join(self.confdir, name), "w") as f:
            f.write(text)

    def start(self, timeout=10):
        super().start()
        host, port = self.ctrl_addr.rsplit(":", 1)
        L.wait_for(lambda: (not self.running()) or L.bound(
            host, int(port), "tcp"), timeout,
            "%s's ctrl_tcp to listen" % self.name, interval=0.02)
        if not self.running():
            raise L.LabError("%s exited at start (%s)" % (
                self.name, self.popen.returncode))
        self.ctrl = L.Ctrl(self.ctrl_addr, timeout)
        return self

    def command(self, line, timeout=10):
        return self.ctrl.command(line, timeout)

    def status(self):
        return self.ctrl.status()

    def log_text(self):
        return re.sub(r"\x1b\[[0-9;]*m", "", super().log_text())

    def lines(self, pattern="srvfailover:"):
        return [x for x in self.log_text().splitlines() if pattern in x]

    # the addresses its SIP leaves from: TCP connections are not bound,
    # they come from the kernel's source for lo: .1 (baresip 4.x: its
    # own route's, its ip)
    @property
    def addrs(self):
        return (self.ip, "127.0.0.1")

    def kill_quietly(self):
        """kill -9; notes in self.died if it had ended by itself."""
        if getattr(self, "stopped", False):
            return
        self.stopped = True
        if self.popen and self.popen.poll() is not None and \
                not self.died:
            self.died = "%s ended by itself (exit status %s)" % (
                self.name, self.popen.returncode)
        try:
            self.kill()
        except L.LabError:
            pass
        if self.ctrl:
            self.ctrl.close()

    # /proc figures
    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])  # utime + stime

    def cpu_ns(self):
        """Time on a CPU of all its threads, ns (schedstat: precise,
        where utime+stime counts in 10 ms ticks)."""
        total = 0
        for tid in os.listdir("/proc/%d/task" % self.pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (self.pid,
                                                          tid)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
        return total

    def vmrss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


class Poller(threading.Thread):
    """Polls a module phone's `srvfailover json` every `interval` s:
    self.samples = [(time, line dict of `user`)]."""

    def __init__(self, phone, interval=0.1):
        super().__init__(daemon=True)
        self.phone, self.interval = phone, interval
        self.samples = []
        self.stop_ = threading.Event()

    def run(self):
        while not self.stop_.is_set():
            t = time.time()
            try:
                st = self.phone.status()
            except Exception:  # baresip gone, or busy: try again
                st = None
            if st is not None:
                self.samples.append(((t + time.time()) / 2,
                                     L.line_of(st, self.phone.user)))
            self.stop_.wait(max(0.0, self.interval - (time.time() - t)))

    def stop(self):
        self.stop_.set()
        self.join(5)

    def last(self):
        return self.samples[-1][1] if self.samples else None

    def first(self, check, since=0.0):
        """Time of the first sample at or after since where check(line)."""
        for t, line in self.samples:
            if t >= since and line and check(line):
                return t
        return None


class Capture(L.Capture):
    """lab.Capture with a 32 MiB kernel buffer: start-up bursts of a
    hundred REGISTERs are not dropped on a busy machine."""

    def __init__(self, lab, iface="lo", bpf=L.Capture.FILTER):
        super().__init__(lab, iface, bpf)
        self.argv[1:1] = ["-B", "32768"]


class BenchLab(L.Lab):
    """A lab with several phones; closing kills them first."""

    def __init__(self, directory, module=None):
        super().__init__(directory, module)
        self.phones = []
        self.lock = threading.Lock()
        self.uids = []
        if L.BARESIP_PREFIX:  # phones of their own uid read their dirs
            os.chmod(directory, 0o755)

    def own_route(self, ip):
        """A uid whose route to any 127/8 address has ip as its source.
        baresip 4.x places a call only from the address of the kernel's
        route to the server (else "ua: no laddr"); a phone run as that
        uid has a route of its own, as on a host of its own, so every
        phone of the lab can place calls. Rules by uid come before the
        local table (moved from 0 to 100 once)."""
        with self.lock:
            uid = FIRST_UID + len(self.uids)
            if not self.uids:
                run_checked("ip", "rule", "add", "pref", "100", "lookup",
                            "local")
                run_checked("ip", "rule", "del", "pref", "0")
            self.uids.append(uid)
        run_checked("ip", "route", "add", "local", "127.0.0.0/8", "dev",
                    "lo", "scope", "host", "src", ip, "table", str(uid))
        run_checked("ip", "rule", "add", "pref", "10", "uidrange",
                    "%d-%d" % (uid, uid), "lookup", str(uid))
        return uid

    def phone(self, *args, **kw):
        p = Phone(self, *args, **kw)
        self.phones.append(p)
        return p

    def capture(self):
        self.capture_proc = Capture(self).start()
        return self.capture_proc

    def dropped(self):
        """tcpdump's 'packets dropped by kernel' (after it ended)."""
        m = re.search(r"(\d+) packets dropped by kernel",
                      self.capture_proc.log_text())
        return int(m.group(1)) if m else None

    def nft(self, *args):
        return run_checked("nft", *args)

    def block(self, ip, on=True):
        """Drop every packet to ip as it arrives (nft input hook, in this
        namespace): the capture still sees what was sent, nothing
        answers, no ICMP, and the sender gets no error. (An output-hook
        drop is not silent: sendto() fails with EPERM at once.)"""
        with self.lock:
            if not getattr(self, "_bench_nft", False):
                self.nft("add", "table", "inet", "sfobench")
                self.nft("add", "chain", "inet", "sfobench", "in",
                         "{ type filter hook input priority 0; }")
                self._bench_nft = True
            if on:
                self.nft("add", "rule", "inet", "sfobench", "in", "ip",
                         "daddr", ip, "drop", "comment",
                         '"block %s"' % ip)
                return
            for line in self.nft("-a", "list", "chain", "inet", "sfobench",
                                 "in").splitlines():
                m = re.search(r'"block %s".*# handle (\d+)' %
                              re.escape(ip), line)
                if m:
                    self.nft("delete", "rule", "inet", "sfobench", "in",
                             "handle", m.group(1))

    def close(self):
        """Kill every phone, then what lab.Lab.close stops; return the
        phones that had ended by themselves (crashes)."""
        for p in self.phones:
            p.kill_quietly()
        super().close()
        # a safety net: every process left below us is this lab's (we are
        # a subreaper: orphans of killed processes come to us)
        left = L.descendants(os.getpid())
        if left:
            L.signal_pids(left, signal.SIGKILL)
            L.wait_for(lambda: not any(L.alive(x) for x in left), 5,
                       "leftover pids %s to end" % left, interval=0.05)
        L.reap()
        return [p.died for p in self.phones if p.died] + (
            ["%d leftover process(es) killed at cleanup" % len(left)]
            if left else [])

    # ----------------------------------------------------------------------
    # failures

    def inject(self, kind, ip):
        """Make server ip fail in that way; return when it has."""
        kam = self.kams[ip]
        if kind == "503":
            self.block(ip)  # no ICMP while the ports change hands
            kam.kill()
            self.r503 = getattr(self, "r503", {})
            self.r503[ip] = self.responder_503(ip)
            self.block(ip, on=False)
        elif kind in ("tcp", "icmp"):
            kam.kill()
        elif kind == "hang":
            kam.stop()
        elif kind == "drop":
            self.block(ip)
        else:
            raise L.LabError("unknown failure kind %r" % kind)

    def recover(self, kind, ip):
        kam = self.kams[ip]
        if kind == "503":
            self.block(ip)
            self.r503.pop(ip).kill()
            kam.start()
            self.block(ip, on=False)
        elif kind in ("tcp", "icmp"):
            kam.start()
        elif kind == "hang":
            kam.cont()
        elif kind == "drop":
            self.block(ip, on=False)


# --------------------------------------------------------------------------
# the wire, per phone


def user_of(msg):
    """User part of the From header."""
    f = msg.header("from")
    i = f.find("sip:")
    if i < 0:
        return None
    rest = f[i + 4:]
    at = rest.find("@")
    return rest[:at] if at > 0 else None


def phone_msgs(msgs, phone):
    """Messages between this phone and a server (its From user, one end
    one of its addresses)."""
    return [m for m in msgs if user_of(m) in phone.users and
            (m.src in phone.addrs or m.dst in phone.addrs)]


def sent_by(msgs, phone):
    return [m for m in msgs if m.src in phone.addrs]


def first(seq):
    for x in seq:
        return x
    return None


class Finals:
    """Final responses of a message list, indexed by transaction."""

    def __init__(self, msgs):
        self.index = {}
        for m in msgs:
            if not m.is_request and m.status >= 200:
                self.index.setdefault(
                    (m.call_id, m.cseq, m.cseq_method, m.src), m)

    def of(self, req):
        return self.index.get((req.call_id, req.cseq, req.method, req.dst))


def reg_ok_from(msgs, ips, since, finals=None):
    """Time of the first 2xx from one of ips to a REGISTER (not un-) sent
    at or after since, or None."""
    finals = finals or Finals(msgs)
    best = None
    for m in msgs:
        if m.is_request and m.method == "REGISTER" and m.dst in ips and \
                not m.is_unregister and m.t >= since:
            r = finals.of(m)
            if r and 200 <= r.status < 300 and (best is None or
                                                 r.t < best):
                best = r.t
    return best


def last_ok_response(msgs, ips, since, until, finals=None):
    """Time of the last 2xx from one of ips to a REGISTER (not un-) that
    arrived between since and until (whenever the REGISTER was sent: a
    hung server answers what it had queued), or None."""
    finals = finals or Finals(msgs)
    best = None
    for m in msgs:
        if m.is_request and m.method == "REGISTER" and m.dst in ips and \
                not m.is_unregister:
            r = finals.of(m)
            if r and 200 <= r.status < 300 and since <= r.t <= until and \
                    (best is None or r.t > best):
                best = r.t
    return best


def percentile(values, q):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def median(values):
    return percentile(values, 0.5)


def run_quiet(argv, timeout=10):
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout)
