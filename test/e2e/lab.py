"""The srvfailover end-to-end test lab.

Everything a scenario needs, run inside a private network namespace
(test/e2e/run puts each test in its own `unshare -n`):

  Lab        one scenario's temp dir and processes; closing it stops them all
  Kamailio   registrar/proxy instances of contrib/lab/kamailio.cfg
  Sipp       scripted SIP peers (contrib/lab/sipp/*.xml)
  Baresip    /usr/bin/baresip with a generated config dir (+ the module);
             with SFO_BARESIP_ROOT set, that system's baresip (a trixie
             system: test/debian/root.sh), chrooted, in the same namespace
  Ctrl       ctrl_tcp client: commands, `srvfailover json`, pushed UA events
  Capture    tcpdump on lo, read back with the pcap/SIP reader below

Processes are only ever signalled by the pids this file started (and, for
kamailio, their children found through /proc). Every wait is bounded.
Python 3.11 standard library only.
"""

import ctypes
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
LABDIR = os.path.join(TOP, "contrib", "lab")
KAMAILIO_CFG = os.path.join(LABDIR, "kamailio.cfg")
SIPP_DIR = os.path.join(LABDIR, "sipp")
# The system whose baresip runs: "" is this machine's; a trixie system
# (test/debian/root.sh enter trixie test) has this machine's /tmp at the
# same path
BARESIP_ROOT = os.environ.get("SFO_BARESIP_ROOT", "")
BARESIP_MODULES = "/usr/lib/baresip/modules"  # inside BARESIP_ROOT
# Upstream baresip 4.x, built into a prefix (test/upstream/prefix.sh):
# its binary, libraries and modules are there, not in a Debian system
BARESIP_PREFIX = os.environ.get("SFO_BARESIP_PREFIX", "")

CALLEE = "127.0.0.99"  # where the kamailios send calls for unknown users
PHONE = "127.0.0.10"  # baresip's SIP address
# The IPv6 lab (Lab.ipv6() adds these to lo in the test's namespace):
# baresip 1.0.0 uses one address family, the one of sip_listen, so an
# IPv6 phone (Baresip(listen=PHONE6_LISTEN)) talks to IPv6 servers only
PHONE6 = "fd00::10"
PHONE6_LISTEN = "[fd00::10]:5060"
SERVERS6 = ["fd00::2", "fd00::3", "::1"]


class LabError(Exception):
    """A lab step that did not work (a test failure, with its reason)."""


def wait_for(predicate, timeout, what=None, interval=0.1):
    """Call predicate() until it returns something true; return that.

    Raises LabError naming `what` (or the predicate) after `timeout` s.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError("timed out after %gs waiting for %s"
                           % (timeout, what or getattr(
                               predicate, "__name__", "a condition")))
        time.sleep(interval)


# --------------------------------------------------------------------------
# processes


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _die_with_parent(uid=None):
    """preexec_fn: the child gets SIGKILL when the test process dies; a
    crash leaves a core file (in its cwd, the lab dir, when the kernel's
    core_pattern is the default `core`). uid: the child runs as that
    user (set first: a change of credentials clears the death signal)."""
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,
                                                  resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass


def exit_text(rc):
    if rc is not None and rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "exit status %s" % rc


def become_subreaper():
    """Orphaned descendants (kamailio's children) become our children, so
    that reap() can collect them instead of leaving zombies behind."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap():
    """Collect every child that has ended (call when no Popen is waiting:
    a Popen whose child was collected here reports returncode 0)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def proc_stat(pid):
    """(state, ppid) of a pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def alive(pid):
    """Running (not gone, not a zombie). Reaps pid if it is our child."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def descendants(pid):
    """All live descendants of pid (children, grandchildren, ...)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[0] not in ("Z", "X"):
            children.setdefault(st[1], []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def signal_pids(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def kill_tree(pid, sig=signal.SIGKILL, timeout=5):
    """Signal pid and all its descendants, wait (bounded) until all gone."""
    pids = [pid] + descendants(pid)
    signal_pids(pids, sig)
    try:
        wait_for(lambda: not any(alive(p) for p in pids), timeout,
                 "pids %s to end" % pids, interval=0.02)
    except LabError:
        return False
    return True


class Proc:
    """A process this lab started: a Popen with a name and a log file."""

    stdin = subprocess.DEVNULL   # what the process reads (Twinkle: a pipe)
    uid = None                   # the user it runs as (None: ours)

    def __init__(self, lab, name, argv, log, cwd=None, env=None):
        self.lab, self.name, self.argv, self.log = lab, name, argv, log
        # in the lab dir: a core dump lands there, not in the source tree
        self.cwd, self.env = cwd or lab.dir, env
        self.popen = None

    def start(self):
        logf = open(self.log, "ab")
        self.popen = subprocess.Popen(
            self.argv, stdin=self.stdin, stdout=logf,
            stderr=subprocess.STDOUT, cwd=self.cwd, env=self.env,
            preexec_fn=lambda: _die_with_parent(self.uid))
        logf.close()
        self.lab._track(self)
        return self

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def pids(self):
        """The main pid and every live descendant."""
        if not self.running():
            return []
        return [self.pid] + descendants(self.pid)

    def kill(self):
        """kill -9 of the process and all its children."""
        if not self.popen:
            return
        pids = self.pids()
        signal_pids(pids, signal.SIGKILL)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        wait_for(lambda: not any(alive(p) for p in pids), 5,
                 "%s pids %s to end" % (self.name, pids), interval=0.02)

    def terminate(self, timeout=3):
        """SIGTERM, then kill -9 after timeout seconds."""
        if not self.running():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def stop(self):
        """SIGSTOP every pid (a hung server), and wait until each is
        stopped: the signal is delivered when the process next runs,
        which on a busy machine is not at once."""
        pids = self.pids()
        signal_pids(pids, signal.SIGSTOP)
        end = time.time() + 5
        while time.time() < end and not all(
                (proc_stat(p) or ("T",))[0] in "Tt" for p in pids):
            time.sleep(0.01)

    def cont(self):
        signal_pids(self.pids(), signal.SIGCONT)

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])


# --------------------------------------------------------------------------
# sockets in this namespace, from /proc (no traffic needed)


def _hexaddr(ip, port):
    if ":" in ip:  # IPv6, as /proc/net/udp6 shows it (32-bit words)
        a = socket.inet_pton(socket.AF_INET6, ip.strip("[]"))
        return "%s:%04X" % ("".join(
            "%08X" % w for w in struct.unpack("<IIII", a)), port)
    a = socket.inet_aton(ip)
    return "%08X:%04X" % (struct.unpack("<I", a)[0], port)


def bound(ip, port, proto="udp"):
    """Is something bound to ip:port (tcp: listening) in this namespace?
    An IPv6 address (with or without brackets) is looked up in udp6/tcp6."""
    want = _hexaddr(ip, port)
    if ":" in ip:
        proto += "6"
    try:
        with open("/proc/net/" + proto) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[1] == want and (proto.startswith("udp") or
                                           cols[3] == "0A"):
                    return True
    except OSError:
        pass
    return False


# --------------------------------------------------------------------------
# a tiny SIP peer over UDP: a plain socket that publishes or subscribes
# (the lab's presence servers have no other client than baresip)


MWI_PUBLISHER = "127.0.0.97"  # Kamailio.publish_mwi() sends from here
T1, T2 = 0.5, 4.0  # RFC 3261 retransmission timers (s)


def sip_socket(ip, port=0):
    """A UDP socket on ip (port 0: any free one) for sip_request() and
    sip_transaction(); IPv6 without brackets."""
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.bind((ip, port))
    return s


def hostport(ip, port):
    """ip:port as a SIP URI or Via writes it (IPv6 in brackets)."""
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip.strip("[]"), port)


def sip_request(sock, method, ruri, headers, body=""):
    """Text of a request from sock's address: Via (a new branch, rport)
    and Max-Forwards first, then `headers` ("Name: value" strings: From,
    To, Call-ID, CSeq, ...), Content-Length and the body."""
    ip, port = sock.getsockname()[:2]
    via = "Via: SIP/2.0/UDP %s;rport;branch=z9hG4bK%s" % (
        hostport(ip, port), os.urandom(8).hex())
    lines = ["%s %s SIP/2.0" % (method, ruri), via, "Max-Forwards: 70"]
    lines += list(headers) + ["Content-Length: %d" % len(body.encode())]
    return "\r\n".join(lines) + "\r\n\r\n" + body


def _recv_sip(sock, timeout):
    """The next SIP message on sock as a SipMsg, or None after timeout."""
    sock.settimeout(max(timeout, 0.001))
    try:
        data, addr = sock.recvfrom(65535)
    except (socket.timeout, BlockingIOError):
        return None
    me = sock.getsockname()
    return SipMsg(time.time(), "udp", addr[0], addr[1], me[0], me[1],
                  data.decode("utf-8", "replace"))


def sip_transaction(sock, dst, request, timeout=8.0, inbox=None):
    """Send a request (sip_request()'s text) over UDP to dst (ip, port)
    and return its final response (a SipMsg).

    Without an answer it is sent again after 0.5 s, then at doubling
    intervals up to 4 s (RFC 3261 timers E/A), as a real client would;
    LabError after `timeout` s. Requests arriving meanwhile (a NOTIFY
    may overtake the 200 to its SUBSCRIBE) are appended to `inbox`."""
    branch = re.search(r"branch=([^;\s\r]+)", request).group(1)
    deadline = time.monotonic() + timeout
    interval = T1
    while time.monotonic() < deadline:
        sock.sendto(request.encode(), dst)
        resend = min(time.monotonic() + interval, deadline)
        interval = min(interval * 2, T2)
        while True:
            m = _recv_sip(sock, resend - time.monotonic())
            if m is None:
                break
            if m.is_request:
                if inbox is not None:
                    inbox.append(m)
            elif branch in m.header("via") and m.status >= 200:
                return m
    raise LabError("no final answer to %s from %s in %gs" % (
        request.split(" ", 1)[0], hostport(*dst[:2]), timeout))


def sip_receive(sock, timeout, method=None, inbox=None):
    """The next request (of `method`, when given) arriving on sock,
    first from `inbox`; LabError after timeout s. Responses and other
    requests are skipped (others stay in inbox)."""
    for m in list(inbox or ()):
        if method is None or m.method == method:
            inbox.remove(m)
            return m
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = _recv_sip(sock, deadline - time.monotonic())
        if m is None or not m.is_request:
            continue
        if method is None or m.method == method:
            return m
        if inbox is not None:
            inbox.append(m)
    raise LabError("no %s arrived at %s in %gs" % (
        method or "request", hostport(*sock.getsockname()[:2]), timeout))


def sip_answer(sock, req, status=200, reason="OK", headers=()):
    """Answer a received request (a SipMsg) to where it came from, with
    its Via, From, To, Call-ID and CSeq (a To tag is the sender's job)."""
    lines = ["SIP/2.0 %d %s" % (status, reason)]
    lines += ["Via: " + v for v in req.headers.get("via", [])]
    lines += ["%s: %s" % (n, req.header(n)) for n in
              ("From", "To", "Call-ID", "CSeq")]
    lines += list(headers) + ["Content-Length: 0"]
    sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(),
                (req.src, req.sport))


# --------------------------------------------------------------------------
# kamailio


class Kamailio(Proc):
    """One registrar/proxy of contrib/lab/kamailio.cfg on ip:port."""

    DBTEXT = "/usr/share/kamailio/dbtext/kamailio"
    PRESENCE_TABLES = ("version", "presentity", "active_watchers",
                       "watchers", "xcap")

    def __init__(self, lab, ip, port=5060, callee=CALLEE + ":5060",
                 defines=(), auth_pw=None, tls=False, tls_port=5061,
                 presence=False, presence_transport="udp"):
        """defines: more -A of kamailio.cfg, e.g. ["INVITE_503"].

        auth_pw: digest auth with this password (the define AUTH_PW);
        tls: also listen for TLS on ip:tls_port with the lab's
        self-signed certificate (Lab.tls_cert()). ip may be IPv6
        ("::1", "fd00::2"; without brackets).
        presence: also a presence server and voicemail (MWI) notifier
        (publish_mwi()); the define "PRESENCE" in defines does the same,
        so common.start(defines={ip: ["PRESENCE"]}) works too. With it,
        "MWI_481" answers every SUBSCRIBE refresh 481. presence_transport:
        what the NOTIFYs' Contact says (its in-dialog requests go so):
        "tcp" for subscribers over TCP."""
        self.ip, self.port = ip, port
        self.presence = presence or "PRESENCE" in defines
        self._etags = {}  # (user, event) -> SIP-ETag of our last PUBLISH
        self.tls_port = tls_port if tls else None
        # (no ':' in the control socket's path: kamailio splits on it)
        self.rundir = lab.path("kamailio-%s-%d" % (ip.replace(":", "_"),
                                                   port))
        os.makedirs(self.rundir, exist_ok=True)
        if len(self.rundir) > 99:  # sun_path of the ctl socket
            raise LabError("lab dir path too long for kamailio's control "
                           "socket: %s" % self.rundir)
        argv = ["kamailio", "-DD", "-E", "-f", KAMAILIO_CFG,
                "-Y", self.rundir, "-P", os.path.join(self.rundir, "pid"),
                "-m", "32", "-M", "4",
                "-A", "LADDR=%s" % (("[%s]" % ip) if ":" in ip else ip),
                "-A", "LPORT=%d" % port,
                "-A", 'CTLSOCK="unix:%s/ctl"' % self.rundir,
                "-A", 'CALLEE="sip:%s"' % callee]
        if auth_pw is not None:
            argv += ["-A", 'AUTH_PW="%s"' % auth_pw]
        if tls:
            lab.tls_cert()
            argv += ["-A", "TLS", "-A", 'TLS_CFG="%s"' % lab.path(
                "tls/tls.cfg"), "-A", "TLS_PORT=%d" % tls_port]
        if self.presence:
            # db_text: no database server; a string define is substituted
            # only whole, so the NOTIFYs' Contact comes complete
            tp = "" if presence_transport == "udp" else \
                ";transport=" + presence_transport
            argv += ["-A", 'PRESENCE_DB="text://%s"' % self.dbdir(),
                     "-A", 'PRESENCE_ADDR="sip:%s%s"' % (hostport(ip, port),
                                                         tp)]
            if "PRESENCE" not in defines:
                argv += ["-A", "PRESENCE"]
        for d in defines:
            argv += ["-A", d]
        super().__init__(lab, "kamailio %s:%d" % (ip, port), argv,
                         os.path.join(self.rundir, "log"))

    def dbdir(self):
        """The presence server's db_text directory (RUNDIR/db)."""
        return os.path.join(self.rundir, "db")

    def _fresh_db(self):
        """Empty presence tables, copied again at every start: kamailio
        only reads them (state is in memory), a restart forgets all."""
        os.makedirs(self.dbdir(), exist_ok=True)
        for t in self.PRESENCE_TABLES:
            shutil.copyfile(os.path.join(self.DBTEXT, t),
                            os.path.join(self.dbdir(), t))
        self._etags = {}

    def start(self, timeout=10):
        for stale in ("pid", "ctl"):
            try:
                os.unlink(os.path.join(self.rundir, stale))
            except OSError:
                pass
        if self.presence:
            self._fresh_db()
        super().start()
        wait_for(lambda: (not self.running()) or (
            bound(self.ip, self.port, "udp") and
            bound(self.ip, self.port, "tcp") and
            (not self.tls_port or bound(self.ip, self.tls_port, "tcp")) and
            os.path.exists(os.path.join(self.rundir, "ctl"))),
            timeout, "%s to listen" % self.name, interval=0.02)
        if not self.running():
            raise LabError("%s did not start:\n%s"
                           % (self.name, self.log_tail(15)))
        return self

    def kill(self):
        """kill -9 of the main pid and all its children; port is free."""
        super().kill()
        wait_for(lambda: not bound(self.ip, self.port, "udp"), 5,
                 "%s port to be free" % self.name, interval=0.02)

    def restart(self):
        """Kill (if running) and start again on the same address."""
        if self.running():
            self.kill()
        return self.start()

    def kamcmd(self, *args, timeout=5):
        r = subprocess.run(
            ["kamcmd", "-s", "unix:%s/ctl" % self.rundir] + list(args),
            capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise LabError("kamcmd %s on %s failed: %s"
                           % (" ".join(args), self.name, r.stderr.strip()))
        return r.stdout

    def contacts(self, user=None):
        """Registered contacts: [{"aor","contact","expires"}], from ul.dump.

        Empty when the instance is not running.
        """
        if not self.running():
            return []
        out, aor = [], None
        for line in self.kamcmd("ul.dump").splitlines():
            m = re.match(r"\s*AoR:\s*(\S+)", line)
            if m:
                aor = m.group(1)
                continue
            m = re.match(r"\s*Address:\s*(\S+)", line)
            if m:
                out.append({"aor": aor, "contact": m.group(1)})
                continue
            m = re.match(r"\s*Expires:\s*(\S+)", line)
            if m and out:
                out[-1]["expires"] = m.group(1)
        if user is not None:
            out = [c for c in out if c["aor"].split("@")[0] == str(user)]
        return out

    def account(self, user):
        """sip:USER@IP, the voicemail account this server publishes."""
        return "sip:%s@%s" % (user, ("[%s]" if ":" in self.ip else "%s")
                              % self.ip)

    def publish_mwi(self, user, new, old=0, waiting=None, expires=3600,
                    timeout=8.0):
        """PUBLISH user's voicemail count (message-summary) to this
        presence server; every subscriber of sip:USER@IP gets a NOTIFY
        with `Voice-Message: NEW/OLD`. waiting: Messages-Waiting (default:
        new > 0). See _publish_state. Returns the 200."""
        waiting = new > 0 if waiting is None else waiting
        body = ("Messages-Waiting: %s\r\nMessage-Account: %s\r\n"
                "Voice-Message: %d/%d\r\n" % (
                    "yes" if waiting else "no", self.account(user),
                    new, old))
        return self._publish_state(user, "message-summary",
                                   "application/simple-message-summary",
                                   body, expires, timeout)

    def publish_presence(self, user, basic="open", activity=None,
                         expires=3600, timeout=8.0):
        """PUBLISH user's presence (a PIDF document: basic "open" or
        "closed", an RFC 4480 activity such as "on-the-phone" or "away")
        to this presence server; every presence subscriber of
        sip:USER@IP gets it in a NOTIFY. Returns the 200."""
        uri = self.account(user)
        person = ("  <dm:person id=\"p1\"><rpid:activities><rpid:%s/>"
                  "</rpid:activities></dm:person>\r\n" % activity
                  if activity else "")
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
                "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n"
                "    xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\r\n"
                "    xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\r\n"
                "    entity=\"%s\">\r\n%s"
                "  <tuple id=\"t1\"><status><basic>%s</basic></status>"
                "<contact>%s</contact></tuple>\r\n"
                "</presence>\r\n" % (uri, person, basic, uri))
        return self._publish_state(user, "presence", "application/pidf+xml",
                                   body, expires, timeout)

    def _publish_state(self, user, event, ctype, body, expires, timeout):
        """The first PUBLISH of a user's event makes its state, later
        ones modify it (SIP-If-Match: the server keeps one state per
        fresh PUBLISH, and NOTIFYs the oldest), a fresh one if the server
        refuses the etag (kamailio 5.6.3 answers 500, not 412). Sent from
        MWI_PUBLISHER (::1 for an IPv6 server), retransmitted like a real
        client's; LabError unless 200 (405 from a server without
        presence)."""
        key = (user, event)
        r = self._publish(user, event, ctype, body, expires,
                          self._etags.get(key), timeout)
        if r.status != 200 and self._etags.get(key):
            r = self._publish(user, event, ctype, body, expires, None,
                              timeout)
        if r.status != 200:
            raise LabError("PUBLISH of %s's %s to %s: %d %s" % (
                user, event, self.name, r.status, r.reason))
        self._etags[key] = r.header("sip-etag")
        return r

    def _publish(self, user, event, ctype, body, expires, etag, timeout):
        """One PUBLISH transaction; its final answer."""
        uri = self.account(user)
        with sip_socket("::1" if ":" in self.ip else MWI_PUBLISHER) as s:
            headers = ["From: <%s>;tag=%s" % (uri, os.urandom(4).hex()),
                       "To: <%s>" % uri,
                       "Call-ID: pub-%s" % os.urandom(8).hex(),
                       "CSeq: 1 PUBLISH", "Event: " + event,
                       "Expires: %d" % expires,
                       "Content-Type: " + ctype]
            if etag:
                headers.append("SIP-If-Match: " + etag)
            req = sip_request(s, "PUBLISH", uri, headers, body)
            return sip_transaction(s, (self.ip, self.port), req, timeout)

    def presentities(self, user=None):
        """Published states: [{"user","domain","event","etag","expires"
        (absolute, epoch s)}], from presence.presentity_list (kamailio
        5.6.3 has no RPC that lists subscriptions)."""
        out = []
        for line in self.kamcmd("presence.presentity_list").splitlines():
            line = line.strip()
            if line == "{":
                out.append({})
            elif ":" in line and out:
                k, _, v = line.partition(":")
                out[-1][k.strip()] = v.strip()
        if user is not None:
            out = [p for p in out if p.get("user") == str(user)]
        return out


# --------------------------------------------------------------------------
# dnsmasq


DNS = "127.0.0.53"  # the lab's DNS server (baresip: dns_server DNS:53)


class Dnsmasq(Proc):
    """dnsmasq answering from its command line only, on ip:53 (UDP/TCP).

    records: dnsmasq options, e.g.
      "--host-record=pri.pbx.test,127.0.0.2"
      "--srv-host=_sip._udp.pbx.test,pri.pbx.test,5060,10"
    Names under .test that have no record get NXDOMAIN (--local=/test/);
    there is no upstream server. --log-queries: every query is in its log.
    dnsmasq gives its own records a TTL of 0 unless ttl is set.
    """

    def __init__(self, lab, records, ip=DNS, ttl=None):
        self.ip = ip
        argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--listen-address=" + ip,
                "--port=53", "--bind-interfaces", "--local=/test/",
                "--log-queries", "--log-facility=-"]
        if ttl is not None:
            argv.append("--local-ttl=%d" % ttl)
        argv += list(records)
        super().__init__(lab, "dnsmasq %s" % ip, argv,
                         lab.path("dnsmasq.log"))

    def start(self, timeout=10):
        super().start()
        wait_for(lambda: (not self.running()) or bound(self.ip, 53, "udp"),
                 timeout, "%s to listen" % self.name, interval=0.02)
        if not self.running():
            raise LabError("%s did not start:\n%s"
                           % (self.name, self.log_tail(15)))
        return self

    def queries(self):
        """[(type, name)] of the queries it got so far."""
        return re.findall(r"query\[(\w+)\] (\S+) from", self.log_text())


# --------------------------------------------------------------------------
# mosquitto: the fleet's MQTT broker


BROKER = "127.0.0.60"  # the lab's broker (srvfailover_mqtt_broker)


class Mosquitto(Proc):
    """Debian's mosquitto on ip:port, no persistence (a restart forgets
    every retained message); its log in the lab dir. users: {name:
    password} (else anonymous); tls: the lab's certificate (Lab.tls_cert:
    ip must be one it names, 127.0.0.1-.30)."""

    def __init__(self, lab, ip=BROKER, port=1883, tls=False, users=None):
        self.ip, self.port = ip, port
        conf = lab.path("mosquitto-%s.conf" % ip)
        # (no cap on what it queues for a client: a collector's
        # subscription brings every phone's retained state at once, more
        # than mosquitto's default 1000 for a large fleet; README)
        text = "listener %d %s\npersistence false\nuser root\n" \
            "max_queued_messages 0\nlog_dest stdout\nlog_type " \
            "error warning notice information\n" % (port, ip)
        if users:
            pwfile = lab.path("mosquitto-%s.passwd" % ip)
            open(pwfile, "w").close()
            for name, pw in users.items():
                subprocess.run(["mosquitto_passwd", "-b", pwfile, name, pw],
                               check=True, capture_output=True, timeout=30)
            text += "allow_anonymous false\npassword_file %s\n" % pwfile
        else:
            text += "allow_anonymous true\n"
        if tls:
            cert, key = lab.tls_cert()
            text += "cafile %s\ncertfile %s\nkeyfile %s\n" % (cert, cert,
                                                              key)
        with open(conf, "w") as f:
            f.write(text)
        super().__init__(lab, "mosquitto %s" % ip,
                         ["mosquitto", "-c", conf],
                         lab.path("mosquitto-%s.log" % ip))

    def start(self, timeout=10):
        super().start()
        wait_for(lambda: (not self.running()) or bound(self.ip, self.port,
                                                       "tcp"),
                 timeout, "%s to listen" % self.name, interval=0.02)
        if not self.running():
            raise LabError("%s did not start:\n%s"
                           % (self.name, self.log_tail(15)))
        return self


def mqtt_client():
    """A python3-paho-mqtt client of either version (2.x, trixie's, asks
    which callback API; the tests use 1.x's)."""
    import paho.mqtt.client as paho
    try:
        return paho.Client(paho.CallbackAPIVersion.VERSION1)
    except AttributeError:
        return paho.Client()


# --------------------------------------------------------------------------
# sipp


class Sipp(Proc):
    """sipp running one of contrib/lab/sipp/*.xml, bound to ip:port."""

    def __init__(self, lab, scenario, ip, port=5060, transport="u1",
                 deadcall_wait=None, extra=()):
        self.ip, self.port, self.scenario = ip, port, scenario
        xml = scenario if os.path.isabs(scenario) else os.path.join(
            SIPP_DIR, scenario if scenario.endswith(".xml")
            else scenario + ".xml")
        self.dir = lab.path("sipp-%s-%s-%d" % (
            os.path.basename(xml)[:-4], ip, port))
        os.makedirs(self.dir, exist_ok=True)
        argv = ["sipp", "-sf", xml, "-i", ip, "-p", str(port),
                "-t", transport, "-nostdin", "-m", "1000000",
                "-mi", ip, "-trace_err", "-error_file",
                os.path.join(self.dir, "errors.log"),
                "-trace_msg", "-message_file",
                os.path.join(self.dir, "messages.log"),
                "-f", "3600"]
        if deadcall_wait is not None:
            argv += ["-deadcall_wait", str(deadcall_wait)]
        argv += list(extra)
        super().__init__(lab, "sipp %s %s:%d" % (
            os.path.basename(xml), ip, port), argv,
            os.path.join(self.dir, "stdout.log"), cwd=self.dir)

    def start(self, timeout=10):
        super().start()
        proto = "tcp" if self.argv[self.argv.index("-t") + 1][0] == "t" \
            else "udp"
        wait_for(lambda: (not self.running()) or
                 bound(self.ip, self.port, proto),
                 timeout, "%s to listen" % self.name, interval=0.02)
        if not self.running():
            raise LabError("%s did not start:\n%s"
                           % (self.name, self.log_tail(15)))
        return self

    def messages_log(self):
        try:
            with open(os.path.join(self.dir, "messages.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------
# twinkle: another SIP client as the callee


class Twinkle(Proc):
    """twinkle -c (Debian package twinkle), a SIP client other than
    baresip, as an auto-answering callee: profile user 200, not
    registered, UDP and TCP on 0.0.0.0:port (twinkle binds no single
    address; give the kamailios callee=CALLEE + ":%d" % port). It answers
    every INVITE at once (100, 180, 200 with SDP) from 127.0.0.1:port and
    takes the BYE; two calls at a time (its two lines).

    twinkle -c reads commands on stdin and quits at end of input: its
    stdin is a pipe kept open (command() writes to it). Its config lives
    in the lab dir (HOME=lab/twinkle). The log shows `incoming call` and
    `call established` per call (calls())."""

    SYS = ("dev_ringtone=alsa:null\ndev_speaker=alsa:null\n"
           "dev_mic=alsa:null\nsip_udp_port={port}\nsip_port={port}\n"
           "rtp_port={rtp}\nstart_user_profile=callee\nlog_show_sip=yes\n"
           "log_max_size=5\n")
    PROFILE = ("user_name=200\nuser_domain=" + CALLEE + "\n"
               "register_at_startup=no\nsip_transport=udp\n")

    def __init__(self, lab, port=5070, rtp=18000):
        self.port = port
        self.home = lab.path("twinkle")
        conf = os.path.join(self.home, ".twinkle")
        os.makedirs(conf, exist_ok=True)
        for name, text in (("twinkle.sys", self.SYS.format(port=port,
                                                           rtp=rtp)),
                           ("callee.cfg", self.PROFILE),
                           ("callee.svc", "auto_answer=yes\n")):
            with open(os.path.join(conf, name), "w") as f:
                f.write(text)
        super().__init__(lab, "twinkle :%d" % port,
                         ["twinkle", "-c", "-f", "callee"],
                         lab.path("twinkle.log"),
                         env={"HOME": self.home, "PATH": "/usr/bin:/bin",
                              "LANG": "C.UTF-8"})

    stdin = subprocess.PIPE

    def start(self, timeout=15):
        super().start()
        wait_for(lambda: (not self.running()) or (
            bound("0.0.0.0", self.port, "udp") and
            "Twinkle>" in self.log_text()),
            timeout, "%s to listen" % self.name, interval=0.05)
        if not self.running():
            raise LabError("%s did not start:\n%s" % (self.name,
                                                      self.log_tail(15)))
        return self

    def command(self, line):
        """A twinkle CLI command (answer, bye, ...)."""
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()

    def calls(self):
        """(incoming, established) calls so far, from its output."""
        text = self.log_text()
        return (text.count(": incoming call"),
                text.count(": call established"))


# --------------------------------------------------------------------------
# baresip and its ctrl_tcp


class Ctrl:
    """ctrl_tcp client (netstring JSON), one connection (ctrl_tcp keeps one).

    A reader thread sorts what arrives: command responses (by token) and
    UA events, which are kept in self.events in arrival order, each with
    an added "t" (time.time(), the clock of the wire capture). Events from
    before the connection (the first ~50 ms of baresip) are not seen.
    """

    def __init__(self, addr, timeout=10):
        host, port = addr.rsplit(":", 1)
        self.addr = (host, int(port))
        self.events = []
        self.responses = {}
        self.cond = threading.Condition()
        self.token = 0
        self.closed = False
        self.sock = wait_for(self._connect, timeout,
                             "ctrl_tcp on %s" % addr, interval=0.05)
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.connect(self.addr)
        except OSError:
            s.close()
            return None
        s.settimeout(None)
        return s

    def _reader(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                with self.cond:
                    self.closed = True
                    self.cond.notify_all()
                return
            buf += data
            while True:
                colon = buf.find(b":")
                if colon < 0 or not buf[:colon].isdigit():
                    break
                n = int(buf[:colon])
                if len(buf) < colon + 1 + n + 1:
                    break
                payload = buf[colon + 1:colon + 1 + n]
                buf = buf[colon + 1 + n + 1:]
                try:
                    obj = json.loads(payload.decode("utf-8", "replace"))
                except ValueError:
                    continue
                with self.cond:
                    if obj.get("event"):
                        obj["t"] = time.time()
                        self.events.append(obj)
                    else:
                        self.responses[obj.get("token")] = obj
                    self.cond.notify_all()

    def request(self, command, params=None, timeout=10):
        """Send one command; return the whole response object."""
        with self.cond:
            self.token += 1
            token = str(self.token)
        msg = {"command": command, "token": token}
        if params is not None:
            msg["params"] = params
        data = json.dumps(msg).encode()
        self.sock.sendall(b"%d:%s," % (len(data), data))
        deadline = time.monotonic() + timeout
        with self.cond:
            while token not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise LabError("no ctrl_tcp response to %r %r%s" % (
                        command, params, " (connection closed)"
                        if self.closed else ""))
                self.cond.wait(left)
            return self.responses.pop(token)

    def command(self, line, timeout=10):
        """command("srvfailover json") -> the text the command printed."""
        command, _, params = line.strip().partition(" ")
        return self.request(command, params or None, timeout)["data"]

    def status(self):
        """`srvfailover json`, parsed."""
        text = self.command("srvfailover json")
        try:
            return json.loads(text)
        except ValueError:
            raise LabError("srvfailover json is not JSON: %r" % text)

    def events_of(self, type_=None, since=0.0):
        with self.cond:
            return [e for e in self.events if (type_ is None or
                    e.get("type") == type_) and e["t"] >= since]

    def wait_event(self, type_, timeout, since=0.0, where=None):
        """Wait for an event of that type (and matching where(e))."""
        return wait_for(lambda: next(
            (e for e in self.events_of(type_, since)
             if where is None or where(e)), None),
            timeout, "event %s" % type_, interval=0.05)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


BARESIP_CONFIG = """\
# generated by test/e2e/lab.py
module_path {moddir}
sip_listen {listen}
net_interface {ip}
ctrl_tcp_listen {ctrl}
audio_source aubridge,x
audio_player aubridge,x
audio_alert aubridge,x
module g711.so
module aubridge.so
module menu.so
module ctrl_tcp.so
{module_app} account.so
"""


def baresip_config(moddir, listen, ip, ctrl, root=None):
    """The lab's baresip config. account.so is loaded as module_tmp (as
    Debian's config does); baresip 4.x ignores that word without one (it
    is gone since 2.11): module_app there."""
    upstream = root is None and BARESIP_PREFIX
    return BARESIP_CONFIG.format(
        moddir=moddir, listen=listen, ip=ip, ctrl=ctrl,
        module_app="module_app" if upstream else "module_tmp")


def net_up():
    """lo up in the test's namespace. baresip 4.x uses only addresses an
    interface has, and takes a call's address from the kernel's route:
    for it, the phone's address on lo and as the local route's source."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True,
                   timeout=10)
    if not BARESIP_PREFIX:
        return
    phone_address(PHONE)
    subprocess.run(["ip", "route", "change", "local", "127.0.0.0/8", "dev",
                    "lo", "proto", "kernel", "scope", "host", "src", PHONE,
                    "table", "local"], check=True, timeout=10)


def phone_address(ip):
    """A phone's address on lo, for baresip 4.x (it listens only where an
    interface has the address; once is enough)."""
    if not BARESIP_PREFIX:
        return
    r = subprocess.run(["ip", "addr", "add", ip + "/32", "dev", "lo"],
                       capture_output=True, text=True, timeout=10)
    if r.returncode and not re.search("File exists|already assigned",
                                      r.stderr):
        raise LabError("ip addr add %s: %s" % (ip, r.stderr.strip()))


def baresip_version(root=BARESIP_ROOT, prefix=BARESIP_PREFIX):
    """The baresip-core version of the system at root, e.g. "1.1.0" (or
    of the baresip in prefix: "baresip v4.10.0 Copyright..." of -h)."""
    if prefix:
        out = subprocess.run([prefix + "/bin/baresip", "-h"],
                             capture_output=True, text=True, timeout=10)
        m = re.match(r"baresip v([0-9.]+)", out.stdout + out.stderr)
        return m.group(1) if m else ""
    out = subprocess.run(
        ["dpkg-query", "--admindir", root + "/var/lib/dpkg", "-W",
         "-f", "${Version}", "baresip-core"], capture_output=True,
        text=True, timeout=10).stdout
    return re.sub(r"[-+~].*", "", out.strip())


def link_stock_modules(moddir, root=None):
    """Links in moddir to every module of the system's baresip (module
    names are relative to module_path); root: as in baresip_argv."""
    mods = BARESIP_MODULES
    if root is None and BARESIP_PREFIX:
        root, mods = "", BARESIP_PREFIX + "/lib/baresip/modules"
    root = BARESIP_ROOT if root is None else root
    for name in sorted(os.listdir(root + mods)):
        # (a baresip started again in the same lab finds them there)
        if name.endswith(".so") and \
                not os.path.lexists(os.path.join(moddir, name)):
            os.symlink(os.path.join(mods, name),
                       os.path.join(moddir, name))


def baresip_argv(confdir, *args, root=None, wrap=None):
    """The system's /usr/bin/baresip, stdout line-buffered. root: None,
    the lab's system (BARESIP_ROOT); "": this machine's (bookworm's
    baresip, reachable from a trixie test's mount namespace too)."""
    binary = "/usr/bin/baresip"
    if root is None and BARESIP_PREFIX:
        root, binary = "", BARESIP_PREFIX + "/bin/baresip"
    root = BARESIP_ROOT if root is None else root
    chroot = ["chroot", root] if root else []
    # wrap: a command baresip runs under (a list), by default
    # SFO_BARESIP_WRAP's (debugging: e.g. "valgrind --log-file=/tmp/x"; an
    # absolute path: chroot(1) starts in the system's /)
    if wrap is None:
        wrap = os.environ.get("SFO_BARESIP_WRAP", "").split()
    return chroot + ["stdbuf", "-oL", "-eL"] + wrap + [binary, "-f",
                                                      confdir] + list(args)


class Baresip(Proc):
    """/usr/bin/baresip with a temp config dir.

    module: path of a built srvfailover.so (None: stock baresip);
    srvfailover: content of the module's file `srvfailover`;
    accounts: content of `accounts`; extra: more `config` lines;
    contacts: content of `contacts` (contact.so's; the first is current).
    stdout is line-buffered (stdbuf) so the log follows live.
    name: its config dir and log (NAME, NAME.log in the lab dir), for
    several baresips in one lab; root: whose baresip; wrap: a command
    it runs under (baresip_argv).
    """

    def __init__(self, lab, module=None, srvfailover="", accounts="",
                 extra=(), listen=PHONE + ":5060", ctrl="127.0.0.1:4444",
                 contacts="", name="baresip", root=None, wrap=None):
        self.confdir = lab.path(name)
        self.moddir = os.path.join(self.confdir, "modules")
        os.makedirs(self.moddir, exist_ok=True)
        link_stock_modules(self.moddir, root)
        if module:
            # a copy: the module may be rebuilt (replaced) while we run
            try:
                wait_for(lambda: os.path.isfile(module), 30,
                         "module %s (being rebuilt?)" % module, 0.2)
            except LabError:
                raise LabError("module %s not found" % module)
            tmp = os.path.join(self.moddir, ".srvfailover.so")
            shutil.copy2(module, tmp)
            os.rename(tmp, os.path.join(self.moddir, "srvfailover.so"))
        self.listen, self.ctrl_addr = listen, ctrl
        config = baresip_config(self.moddir, listen,
                                listen.rsplit(":", 1)[0].strip("[]"), ctrl,
                                root)
        if module:
            config += "module_app srvfailover.so\n"
        config += "".join(line + "\n" for line in extra)
        self.write("config", config)
        self.write("accounts", accounts)
        self.write("srvfailover", srvfailover)
        self.write("contacts", contacts)
        self.ctrl = None
        self.died = None     # why it ended, when not by our SIGTERM
        self.stopped = False
        super().__init__(lab, name, baresip_argv(self.confdir, root=root,
                                                 wrap=wrap),
                         lab.path(name + ".log"))

    def write(self, name, text):
        """text, with a final newline; bytes are written as they are."""
        if isinstance(text, bytes):
            with open(os.path.join(self.confdir, name), "wb") as f:
                f.write(text)
            return
        if text and not text.endswith("\n"):
            text += "\n"
        with open(os.path.join(self.confdir, name), "w") as f:
            f.write(text)

    @property
    def srvfailover_file(self):
        return os.path.join(self.confdir, "srvfailover")

    def start(self, timeout=10):
        super().start()
        host, port = self.ctrl_addr.rsplit(":", 1)
        wait_for(lambda: (not self.running()) or bound(host, int(port),
                                                       "tcp"),
                 timeout, "baresip's ctrl_tcp to listen", interval=0.02)
        if not self.running():
            raise LabError("baresip exited at start (%s)"
                           % self.popen.returncode)
        self.ctrl = Ctrl(self.ctrl_addr, timeout)
        return self

    # shortcuts to the ctrl_tcp client
    def command(self, line, timeout=10):
        return self.ctrl.command(line, timeout)

    def status(self):
        return self.ctrl.status()

    def log_text(self):
        """baresip's output, without its colour codes."""
        return re.sub(r"\x1b\[[0-9;]*m", "", super().log_text())

    def lines(self, pattern="srvfailover:"):
        """Log lines containing pattern (a plain string)."""
        return [l for l in self.log_text().splitlines() if pattern in l]

    def kill(self):
        """kill -9 (a power cut, when a test does it): not a crash."""
        self.stopped = True
        super().kill()

    def terminate(self, timeout=3):
        """SIGTERM (then -9). A baresip that a signal ended (a crash:
        SIGSEGV, SIGABRT, ...), other than our SIGTERM/SIGKILL, whether
        before or while we stop it, is noted in self.died. An exit of
        its own (`quit`, exit status) is not."""
        if self.stopped:
            return
        ended = self.popen is not None and self.popen.poll() is not None
        if not ended:
            self.stopped = True
        super().terminate(timeout)
        rc = self.popen.returncode if self.popen else None
        ours = () if ended else (signal.SIGTERM, signal.SIGKILL)
        if rc is not None and rc < 0 and -rc not in ours:
            self.died = self.died or "baresip ended by %s%s" % (
                exit_text(rc), " before the lab stopped it" if ended
                else "")
        self.stopped = True
        if self.ctrl:  # after baresip: it sends events until it ends
            self.ctrl.close()


# --------------------------------------------------------------------------
# JSON status helpers (the module's `srvfailover json`)


def line_of(status, user):
    for line in status.get("lines", []):
        if str(line.get("user")) == str(user):
            return line
    return None


def states(status, user):
    """{prio: state} of one line ({} when the line is missing)."""
    line = line_of(status, user)
    if not line:
        return {}
    return {s.get("prio"): s.get("state") for s in line.get("servers", [])}


def working(status, user):
    line = line_of(status, user)
    return line.get("working") if line else None


# --------------------------------------------------------------------------
# wire capture


class Capture(Proc):
    """tcpdump -i lo of SIP (udp/tcp ports 5060-5070) into a pcap file."""

    FILTER = "(udp or tcp) and portrange 5060-5070"

    def __init__(self, lab, iface="lo", bpf=FILTER):
        self.file = lab.path("wire.pcap")
        super().__init__(lab, "tcpdump", [
            "tcpdump", "-i", iface, "-U", "--immediate-mode", "-n",
            "-s", "0", "-Z", "root", "-w", self.file, bpf],
            lab.path("tcpdump.log"))

    def start(self, timeout=10):
        super().start()
        wait_for(lambda: (not self.running()) or
                 "listening on" in self.log_text(),
                 timeout, "tcpdump to listen", interval=0.02)
        if not self.running():
            raise LabError("tcpdump did not start:\n" + self.log_tail(10))
        return self

    def terminate(self, timeout=3):
        """Stop cleanly (SIGINT flushes the file)."""
        if self.running():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        super().terminate(1)

    def messages(self):
        """SIP messages captured so far (the file is flushed per packet,
        a few ms after it was sent)."""
        try:
            with open(self.file, "rb") as f:
                data = f.read()
        except OSError:
            return []
        return sip_messages(read_pcap(data))

    def tcp(self):
        """TCP segments captured so far (SYN, RST, ...)."""
        try:
            with open(self.file, "rb") as f:
                data = f.read()
        except OSError:
            return []
        return tcp_segments(read_pcap(data))


def read_pcap(data):
    """Packets of a pcap file: [(time, linktype, frame bytes)].

    A truncated last record (file still being written) is ignored.
    """
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise LabError("not a pcap file (magic %r)" % magic)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII",
                                               data[off:off + 16])
        if off + 16 + incl > len(data):
            break
        t = sec + frac / (1e9 if nano else 1e6)
        out.append((t, linktype, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def _ipv4_of_frame(linktype, frame):
    """The IPv4 packet inside a link-layer frame, or None."""
    if linktype == 1:  # Ethernet (lo in a namespace)
        off, etype = 14, struct.unpack("!H", frame[12:14])[0]
        while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
            etype = struct.unpack("!H", frame[off + 2:off + 4])[0]
            off += 4
        return frame[off:] if etype == 0x0800 else None
    if linktype == 113:  # Linux cooked v1
        etype = struct.unpack("!H", frame[14:16])[0]
        return frame[16:] if etype == 0x0800 else None
    if linktype == 276:  # Linux cooked v2
        etype = struct.unpack("!H", frame[0:2])[0]
        return frame[20:] if etype == 0x0800 else None
    if linktype == 0:  # BSD loopback
        fam = struct.unpack("<I", frame[:4])[0]
        return frame[4:] if fam == 2 else None
    if linktype in (12, 101, 228):  # raw IP / raw IPv4
        return frame if frame[:1] and frame[0] >> 4 == 4 else None
    return None


def _ipv6_of_frame(linktype, frame):
    """The IPv6 packet inside a link-layer frame, or None."""
    if linktype == 1:
        off, etype = 14, struct.unpack("!H", frame[12:14])[0]
        return frame[off:] if etype == 0x86DD else None
    if linktype == 113:
        return frame[16:] if struct.unpack("!H", frame[14:16])[0] == \
            0x86DD else None
    if linktype == 276:
        return frame[20:] if struct.unpack("!H", frame[0:2])[0] == \
            0x86DD else None
    if linktype == 0:
        fam = struct.unpack("<I", frame[:4])[0]
        return frame[4:] if fam in (10, 24, 28, 30) else None
    if linktype in (12, 101, 229):
        return frame if frame[:1] and frame[0] >> 4 == 6 else None
    return None


def _ip_packet(linktype, frame):
    """(src, dst, protocol, layer-4 bytes) of an IPv4 or IPv6 packet (no
    IPv6 extension headers), or None. IPv6 addresses are compressed text
    ("::1", "fd00::2")."""
    ip = _ipv4_of_frame(linktype, frame)
    if ip and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        return (socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]),
                ip[9], ip[ihl:total])
    ip = _ipv6_of_frame(linktype, frame)
    if ip and len(ip) >= 40:
        plen = struct.unpack("!H", ip[4:6])[0]
        return (socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                socket.inet_ntop(socket.AF_INET6, ip[24:40]),
                ip[6], ip[40:40 + plen])
    return None


class SipMsg:
    """One SIP message seen on the wire."""

    def __init__(self, t, transport, src, sport, dst, dport, raw):
        self.t, self.transport = t, transport
        self.src, self.sport, self.dst, self.dport = src, sport, dst, dport
        self.raw = raw
        head, _, self.body = raw.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.first = lines[0]
        parts = self.first.split(" ", 2)
        if parts[0].startswith("SIP/2.0"):
            self.method, self.ruri = None, None
            self.status = int(parts[1]) if len(parts) > 1 and \
                parts[1].isdigit() else 0
            self.reason = parts[2] if len(parts) > 2 else ""
        else:
            self.method = parts[0]
            self.ruri = parts[1] if len(parts) > 1 else ""
            self.status, self.reason = None, ""
        self.headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            name = COMPACT.get(name.strip().lower(), name.strip().lower())
            self.headers.setdefault(name, []).append(value.strip())
        cseq = self.header("cseq").split()
        self.cseq = int(cseq[0]) if cseq and cseq[0].isdigit() else None
        self.cseq_method = cseq[1] if len(cseq) > 1 else None
        self.call_id = self.header("call-id")

    def header(self, name):
        """First value of a header ('' when absent)."""
        v = self.headers.get(name.lower())
        return v[0] if v else ""

    @property
    def is_request(self):
        return self.method is not None

    @property
    def is_unregister(self):
        """A REGISTER with Expires: 0 or a Contact ;expires=0."""
        if self.method != "REGISTER":
            return False
        if self.header("expires").strip() == "0":
            return True
        return any(re.search(r";\s*expires\s*=\s*0*(\s|;|,|$)", c + ";")
                   for c in self.headers.get("contact", []))

    def __repr__(self):
        what = self.method or "%d" % self.status
        return "<%.3f %s %s:%d->%s:%d %s %s%s>" % (
            self.t, self.transport, self.src, self.sport, self.dst,
            self.dport, what, self.cseq_method or "",
            " unREG" if self.is_unregister else "")


COMPACT = {"i": "call-id", "m": "contact", "e": "content-encoding",
           "l": "content-length", "c": "content-type", "f": "from",
           "s": "subject", "k": "supported", "t": "to", "v": "via"}


def _split_stream(data):
    """Complete SIP messages at the start of a TCP byte stream, and rest."""
    out = []
    while True:
        data = data.lstrip(b"\r\n")
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].decode("utf-8", "replace")
        m = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        if len(data) < end + 4 + n:
            break
        out.append(data[:end + 4 + n])
        data = data[end + 4 + n:]
    return out, data


def sip_messages(packets):
    """SIP messages in captured packets (UDP and reassembled TCP)."""
    out, streams = [], {}
    for t, linktype, frame in packets:
        pkt = _ip_packet(linktype, frame)
        if not pkt:
            continue
        src, dst, proto, l4 = pkt
        if proto == 17 and len(l4) >= 8:
            sport, dport = struct.unpack("!HH", l4[:4])
            payload = l4[8:]
            if payload.strip(b"\r\n\x00"):  # not a keep-alive
                out.append(SipMsg(t, "udp", src, sport, dst, dport,
                                  payload.decode("utf-8", "replace")))
        elif proto == 6 and len(l4) >= 20:
            sport, dport, seq = struct.unpack("!HHI", l4[:8])
            flags = l4[13]
            payload = l4[(l4[12] >> 4) * 4:]
            key = (src, sport, dst, dport)
            st = streams.get(key)
            if flags & 0x02:  # SYN
                streams[key] = {"next": (seq + 1) & 0xFFFFFFFF,
                                "buf": b""}
                continue
            if st is None or not payload:
                continue
            if seq != st["next"]:  # retransmission or gap: skip
                continue
            st["next"] = (seq + len(payload)) & 0xFFFFFFFF
            msgs, st["buf"] = _split_stream(st["buf"] + payload)
            for m in msgs:
                out.append(SipMsg(t, "tcp", src, sport, dst, dport,
                                  m.decode("utf-8", "replace")))
    return out


class TcpSeg:
    """One TCP segment seen on the wire (no payload kept)."""

    FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}

    def __init__(self, t, src, sport, dst, dport, flags):
        self.t, self.src, self.sport = t, src, sport
        self.dst, self.dport, self.flags = dst, dport, flags

    def has(self, letters):
        """has("S"), has("R"): all these flags are set."""
        return all(self.flags & self.FLAGS[c] for c in letters)

    def __repr__(self):
        return "<%.3f tcp %s:%d->%s:%d %s>" % (
            self.t, self.src, self.sport, self.dst, self.dport,
            "".join(c for c in "SAFRP" if self.has(c)))


def tcp_segments(packets):
    """TCP segments in captured packets: [TcpSeg]."""
    out = []
    for t, linktype, frame in packets:
        pkt = _ip_packet(linktype, frame)
        if not pkt or pkt[2] != 6:
            continue
        src, dst, _, l4 = pkt
        if len(l4) < 14:
            continue
        sport, dport = struct.unpack("!HH", l4[:4])
        out.append(TcpSeg(t, src, sport, dst, dport, l4[13]))
    return out


# --------------------------------------------------------------------------
# what the wire shows


def requests(msgs, method=None, src=None, dst=None):
    return [m for m in msgs if m.is_request and
            (method is None or m.method == method) and
            (src is None or m.src == src) and (dst is None or m.dst == dst)]


def responses_to(msgs, req):
    """Responses to a request (same Call-ID, CSeq, method, reverse path)."""
    return [m for m in msgs if not m.is_request and
            m.call_id == req.call_id and m.cseq == req.cseq and
            m.cseq_method == req.method and m.src == req.dst]


def final_response(msgs, req):
    finals = [m for m in responses_to(msgs, req) if m.status >= 200]
    return finals[0] if finals else None


def count_registers(msgs, src=None):
    """{dst ip: {"register": n, "unregister": n}} of REGISTER requests
    (retransmissions included) sent by src (any when None)."""
    out = {}
    for m in requests(msgs, "REGISTER", src=src):
        c = out.setdefault(m.dst, {"register": 0, "unregister": 0})
        c["unregister" if m.is_unregister else "register"] += 1
    return out


def registers_ok(msgs, dst, src=None, unregister=False, since=0.0):
    """REGISTERs to dst (not un-REGISTERs, or only those) answered 2xx,
    as [(request, response)] in time order."""
    out, seen = [], set()
    for m in requests(msgs, "REGISTER", src=src, dst=dst):
        if m.is_unregister != unregister or m.t < since:
            continue
        key = (m.call_id, m.cseq)
        if key in seen:
            continue
        r = final_response(msgs, m)
        if r and 200 <= r.status < 300:
            seen.add(key)
            out.append((m, r))
    return out


def summary(msgs, limit=40):
    """A short printable list of messages, for failure reasons."""
    rows = ["  %.3f %s %s:%d -> %s:%d %s" % (
        m.t, m.transport, m.src, m.sport, m.dst, m.dport,
        (m.first[:60] + (" [unREG]" if m.is_unregister else "")))
        for m in msgs]
    if len(rows) > limit:
        rows = rows[:limit // 2] + ["  ... %d more ..." % (
            len(rows) - limit)] + rows[-limit // 2:]
    return "\n".join(rows)


# --------------------------------------------------------------------------
# the lab


class Lab:
    """One scenario's lab: a temp dir and every process it started.

    Use as a context manager; closing stops baresip (SIGTERM, then -9),
    the capture (SIGINT), then everything else (kill -9), newest first.
    """

    def __init__(self, directory, module=None):
        become_subreaper()
        self.dir = directory
        self.module = module
        os.makedirs(directory, exist_ok=True)
        self.procs = []
        self.baresip_proc = None
        self.capture_proc = None
        self.kams = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def _track(self, proc):
        if proc not in self.procs:
            self.procs.append(proc)

    # building blocks
    def kamailio(self, ip, port=5060, callee=CALLEE + ":5060", defines=(),
                 **kw):
        """kw: auth_pw, tls, tls_port, presence, presence_transport (see
        Kamailio)."""
        k = Kamailio(self, ip, port, callee, defines, **kw).start()
        self.kams[ip] = k
        return k

    def tls_cert(self):
        """(cert, key) paths of the lab's self-signed certificate, made
        on first use in the lab dir (openssl req -x509). It is its own CA
        (give it to baresip as sip_cafile) and valid for every address a
        lab server uses (subjectAltName IP: 127.0.0.1-.30, ::1, fd00::1-9;
        the IPv4 ones as DNS names too),
        so a baresip that verifies the server (1.1.0 does once sip_cafile
        is set) accepts it. Beside them: tls.cfg, kamailio's TLS config
        naming them."""
        d = self.path("tls")
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        if os.path.exists(os.path.join(d, "tls.cfg")):
            return cert, key
        os.makedirs(d, exist_ok=True)
        ips = ["127.0.0.%d" % i for i in range(1, 31)] + ["::1"] + \
            ["fd00::%d" % i for i in range(1, 10)]
        # IP entries, and the same as DNS names: a TLS client that checks
        # the address it dialled as a host name finds it either way
        sans = ["IP:" + a for a in ips] + ["DNS:" + a for a in ips
                                           if ":" not in a]
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", key, "-out", cert, "-days", "30",
             "-subj", "/CN=srvfailover lab",
             "-addext", "subjectAltName=" + ",".join(sans),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=digitalSignature,keyEncipherment,"
             "keyCertSign"],
            capture_output=True, text=True, timeout=60)
        if r.returncode:
            raise LabError("openssl req -x509 failed: %s" % r.stderr[-500:])
        with open(os.path.join(d, "tls.cfg"), "w") as f:  # kamailio's
            f.write("[server:default]\nmethod = TLSv1.2+\n"
                    "verify_certificate = no\nrequire_certificate = no\n"
                    "private_key = %s\ncertificate = %s\n\n"
                    "[client:default]\nverify_certificate = no\n"
                    "require_certificate = no\n" % (key, cert))
        return cert, key

    def ipv6(self, *addrs):
        """Add IPv6 addresses (e.g. "fd00::2") to lo in this namespace;
        ::1 is there already once lo is up."""
        for a in addrs:
            r = subprocess.run(["ip", "-6", "addr", "add", a + "/128",
                                "dev", "lo", "nodad"], capture_output=True,
                               text=True, timeout=10)
            if r.returncode and "exists" not in r.stderr:
                raise LabError("ip -6 addr add %s: %s" % (a,
                                                          r.stderr.strip()))

    def sipp(self, scenario, ip, port=5060, **kw):
        return Sipp(self, scenario, ip, port, **kw).start()

    def responder_503(self, ip, port=5060, retry_after=None):
        """A server answering every request with 503 (and Retry-After)."""
        if retry_after is None:
            return self.sipp("reply_503", ip, port, deadcall_wait=0)
        return self.sipp("reply_503_retry_after", ip, port, deadcall_wait=0,
                         extra=["-key", "retry_after", str(retry_after)])

    def registrar_expires(self, ip, expires, port=5060):
        """A registrar answering every REGISTER 200 OK with the caller's
        Contact;expires=EXPIRES (contrib/lab/sipp/registrar_expires.xml),
        everything else 200 OK."""
        return self.sipp("registrar_expires", ip, port, deadcall_wait=0,
                         extra=["-key", "expires", str(expires)])

    def registrar_two_devices(self, ip, expires, other, port=5060):
        """A registrar whose 200 OK lists a binding of the phone's Contact
        user at another address first (expires=OTHER), then the phone's
        Contact (expires=EXPIRES)
        (contrib/lab/sipp/registrar_two_devices.xml)."""
        return self.sipp("registrar_two_devices", ip, port, deadcall_wait=0,
                         extra=["-key", "expires", str(expires),
                                "-key", "other", str(other)])

    def register_silent(self, ip, port=5060):
        """A server answering everything but REGISTER, which it never
        answers (contrib/lab/sipp/register_silent.xml)."""
        return self.sipp("register_silent", ip, port, deadcall_wait=0)

    def registrar_rewrites_contact(self, ip, port=5060):
        """A registrar whose 200 OK names another Contact than the
        phone's (contrib/lab/sipp/registrar_rewrites_contact.xml)."""
        return self.sipp("registrar_rewrites_contact", ip, port,
                         deadcall_wait=0)

    def twinkle(self, port=5070):
        """twinkle as the auto-answering callee on *:port (see Twinkle);
        the kamailios must be started with callee=CALLEE:port."""
        return Twinkle(self, port).start()

    def uas(self, ip=CALLEE, port=5060, scenario="uas"):
        """The callee: INVITE -> 100/180/200, then waits for the BYE."""
        return self.sipp(scenario, ip, port)

    def capture(self):
        self.capture_proc = Capture(self).start()
        return self.capture_proc

    def baresip(self, module=None, **kw):
        self.baresip_proc = Baresip(self, module, **kw).start()
        return self.baresip_proc

    def dnsmasq(self, records, ttl=None):
        return Dnsmasq(self, records, ttl=ttl).start()

    def mosquitto(self, ip=BROKER, port=1883, **kw):
        """kw: tls, users (see Mosquitto)."""
        return Mosquitto(self, ip, port, **kw).start()

    def drop(self, ip, on=True, hook="output"):
        """Silently drop (nft, in this namespace) every packet sent to ip:
        a server that vanished without an ICMP. on=False lets them pass.

        hook "output": dropped as it is sent, never on the wire (tcpdump
        on lo does not see it); "input": dropped on arrival, after the
        capture saw it (the wire shows the unanswered request)."""
        chain = {"output": "out", "input": "in"}[hook]
        def nft(*args):
            r = subprocess.run(["nft"] + list(args), capture_output=True,
                               text=True, timeout=10)
            if r.returncode:
                raise LabError("nft %s: %s" % (" ".join(args),
                                               r.stderr.strip()))
            return r.stdout
        if not getattr(self, "_nft", False):
            nft("add", "table", "inet", "lab")
            nft("add", "chain", "inet", "lab", "out",
                "{ type filter hook output priority 0; }")
            nft("add", "chain", "inet", "lab", "in",
                "{ type filter hook input priority 0; }")
            self._nft = True
        if on:
            nft("add", "rule", "inet", "lab", chain, "ip", "daddr", ip,
                "drop", "comment", '"drop %s"' % ip)
            return
        for line in nft("-a", "list", "chain", "inet", "lab",
                        chain).splitlines():
            m = re.search(r'"drop %s".*# handle (\d+)' % re.escape(ip),
                          line)
            if m:
                nft("delete", "rule", "inet", "lab", chain, "handle",
                    m.group(1))

    def wire(self):
        """SIP messages on the wire so far."""
        return self.capture_proc.messages() if self.capture_proc else []

    def tcp_wire(self):
        """TCP segments on the wire so far."""
        return self.capture_proc.tcp() if self.capture_proc else []

    def wire_until(self, predicate, timeout, what=None):
        """Wait until predicate(messages) is true; return its value."""
        return wait_for(lambda: predicate(self.wire()), timeout,
                        what or "a message on the wire", interval=0.1)

    def close(self):
        """Stop everything. Raises LabError afterwards when a baresip of
        this lab crashed or ended by itself (the test then fails)."""
        first = [p for p in (self.baresip_proc, self.capture_proc) if p]
        bare = [p for p in self.procs if isinstance(p, Baresip)]
        rest = [p for p in reversed(self.procs) if p not in first]
        for p in first + rest:
            try:
                p.terminate(3) if p in first or p in bare else p.kill()
            except Exception:  # keep cleaning up
                if p.running():
                    kill_tree(p.pid)
        reap()
        died = [p.died for p in bare if p.died]
        if died:
            cores = [f for f in os.listdir(self.dir)
                     if f == "core" or f.startswith("core.")]
            raise LabError("; ".join(died) + (
                " (core file: %s)" % ", ".join(
                    os.path.join(self.dir, c) for c in cores)
                if cores else ""))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
