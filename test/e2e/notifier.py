"""A scripted voicemail server for the phone: registrar and
message-summary notifier in one Python thread, on a UDP socket at
(ip, 5060) in the test's namespace (not a test file).

It stands in for a lab server so that a test can play a notifier that
misbehaves: end the subscription (each RFC 6665 reason), answer a
refresh 481, send bodies that do not read, flood, NOTIFY a dialog that
does not exist. What it answers (retransmissions of a request, same Via
branch, get the same answer again and count once):

  REGISTER   200: the Contact with ;expires=N (an un-REGISTER: none),
             Expires: N, a To tag
  OPTIONS    200
  SUBSCRIBE  200 (To tag, Contact, Expires: the granted time), then a
             NOTIFY in that dialog with the current body; an in-dialog
             one (a refresh) the same, or refresh_code (answer_refresh_with)
  else       405 (ACK: nothing)

    n = Notifier("127.0.0.5", expires=4).start()
    ...             # baresip subscribes, gets `n.body`
    n.notify("Messages-Waiting: no\\r\\n")   # -> 200, the phone's answer
    n.notify(state="terminated", reason="probation", retry_after=3)
    n.stop()

Messages are lab.SipMsg; their .t is time.time() (the wire's clock).
"""

import copy
import math
import os
import re
import socket
import threading
import time

import lab as L

BODY = "Messages-Waiting: yes\r\nMessage-Account: sip:{user}@{ip}\r\n" \
    "Voice-Message: 2/8\r\n"


def summary_body(new, old=0, waiting=None, user="100", ip="127.0.0.5"):
    """An RFC 3842 message-summary that reads: Voice-Message NEW/OLD."""
    waiting = new > 0 if waiting is None else waiting
    return "Messages-Waiting: %s\r\nMessage-Account: sip:%s@%s\r\n" \
        "Voice-Message: %d/%d\r\n" % ("yes" if waiting else "no", user, ip,
                                      new, old)


def branch_of(msg):
    """The top Via's branch of a SipMsg ('' when none)."""
    m = re.search(r";\s*branch=([^;,\s]+)", msg.header("via"))
    return m.group(1) if m else ""


def tag_of(value):
    """The tag parameter of a From/To value ('' when none)."""
    m = re.search(r";\s*tag=([^;>\s]+)", value)
    return m.group(1) if m else ""


def uri_of(value):
    """The URI of a name-addr (<sip:...>) or of a bare addr-spec."""
    m = re.search(r"<([^>]*)>", value)
    return m.group(1) if m else value.split(";")[0].strip()


def dst_of(uri):
    """(host, port) a sip: URI points at (IPv4 or a name; port 5060)."""
    hostport = uri.split(":", 1)[1].rsplit("@", 1)[-1].split(";")[0]
    host, _, port = hostport.partition(":")
    return host, int(port or 5060)


class _Tap:
    """A socket stand-in for lab.sip_answer: sends, and keeps what it
    sent (the answer to resend to a retransmission)."""

    def __init__(self, sock):
        self.sock, self.sent = sock, None

    def sendto(self, data, addr):
        self.sent = (data, addr)
        self.sock.sendto(data, addr)


class Dialog:
    """One subscription, as the notifier holds it (from its SUBSCRIBE)."""

    def __init__(self, sub, local_tag):
        self.call_id = sub.call_id
        self.remote_tag = tag_of(sub.header("from"))
        self.local_tag = local_tag
        self.remote = sub.header("from")           # the NOTIFY's To
        self.local = "%s;tag=%s" % (sub.header("to"), local_tag)  # From
        self.target = uri_of(sub.header("contact"))
        self.event = sub.header("event") or "message-summary"
        self.cseq = 0                              # of our NOTIFYs
        self.expires_at = 0.0                      # time.monotonic()
        self.ended = False                         # we sent terminated


class _Tx:
    """A NOTIFY we sent, retransmitted (RFC 3261 timer E) until its final
    answer or `timeout` s."""

    def __init__(self, data, dst, msg, timeout):
        now = time.monotonic()
        self.data, self.dst, self.msg = data, dst, msg
        self.interval, self.next = L.T1, now + L.T1
        self.deadline = now + timeout
        self.done = False           # answered (msg.status), or given up


class Notifier:
    """Registrar + message-summary notifier for the phone on (ip, port).

    expires: the longest subscription it grants (a short one, e.g. 4,
    makes libre refresh after 90% of it); reg_expires: the registration
    time granted (None: what the phone asked); body: what a NOTIFY after
    a SUBSCRIBE says (change it any time); user: the voicemail box.
    """

    def __init__(self, ip, port=5060, expires=600, reg_expires=None,
                 body=None, user="100"):
        self.ip, self.port, self.user = ip, port, user
        self.expires, self.reg_expires = expires, reg_expires
        self.body = body if body is not None else BODY.format(user=user,
                                                              ip=ip)
        self.contact = "<sip:%s>" % L.hostport(ip, port)
        self.sock = L.sip_socket(ip, port)
        self.cond = threading.Condition()
        self.dialog = None          # the current subscription (Dialog)
        self.dialogs = {}           # (call_id, our tag) -> Dialog
        self.answered = {}          # branch -> (bytes, addr), to resend
        self.txs = []               # our NOTIFYs not yet answered (_Tx)
        self.received = []          # every new request (SipMsg)
        self.sent = []              # every NOTIFY we sent (SipMsg with
        #                             .status: the phone's final answer)
        self.retransmissions = 0    # requests that came again
        self.refresh_code = None    # answer_refresh_with()
        self.refresh_left = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="notifier %s" % ip)

    # ------------------------------------------------------------------
    # for tests

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        """Stop the thread (bounded) and close the socket."""
        self._stop.set()
        self.thread.join(5)
        self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def answer_refresh_with(self, code, count=None):
        """Answer later in-dialog SUBSCRIBEs (refreshes) with `code` (e.g.
        481), `count` times (None: every one; code None: 200 again). A 481
        also forgets the dialog, as a notifier that lost it would."""
        with self.cond:
            self.refresh_code, self.refresh_left = code, count

    def subscribes(self, since=0.0, initial=None):
        """The SUBSCRIBEs received (no retransmissions), each a SipMsg
        with .t (arrival) and .status (what it was answered); initial:
        only those without a To tag (True) or only refreshes (False)."""
        with self.cond:
            subs = [m for m in self.received if m.method == "SUBSCRIBE"
                    and m.t >= since]
        if initial is not None:
            subs = [m for m in subs
                    if (not tag_of(m.header("to"))) == initial]
        return subs

    def notifies(self, since=0.0):
        """The NOTIFYs sent (first copies), .status = the phone's answer
        (None while unanswered, 0 when it never came)."""
        with self.cond:
            return [m for m in self.sent if m.t >= since]

    def wait_subscribed(self, timeout=15, since=0.0):
        """Wait for a SUBSCRIBE since `since` answered 200 whose first
        NOTIFY the phone answered 200; returns that NOTIFY."""
        def done():
            with self.cond:
                for n in self.sent:
                    if n.t >= since and n.after_subscribe and \
                            n.status == 200:
                        return n
            return None
        try:
            return L.wait_for(done, timeout, "a SUBSCRIBE to %s and its "
                              "NOTIFY answered" % self.ip, interval=0.05)
        except L.LabError as e:
            raise L.LabError("%s; SUBSCRIBEs: %s" % (e, self.subscribes()))

    def notify(self, body=None, state="active", reason=None,
               retry_after=None, wait=True, timeout=8.0):
        """A NOTIFY in the current dialog: Subscription-State `state`
        (active/pending: ;expires=what is left; terminated: ;reason=,
        ;retry-after= when given), `body` (None: self.body). Waits for
        the phone's final answer and returns its code (wait=False:
        returns the sent SipMsg at once; its .status fills in later).
        A terminated one ends the dialog here too."""
        with self.cond:
            d = self.dialog
        if d is None:
            raise L.LabError("notify(): nobody subscribed to %s" % self.ip)
        if state == "terminated":
            d.ended = True
        return self._notify(d, body, state, reason, retry_after, wait,
                            timeout)

    def stray_notify(self, body=None, timeout=8.0):
        """A NOTIFY like the current dialog's, but for one that does not
        exist (random Call-ID and tags); the phone's answer (481)."""
        with self.cond:
            real = self.dialog
        if real is None:
            raise L.LabError("stray_notify(): no subscriber to aim at")
        d = copy.copy(real)
        d.call_id = "stray-" + os.urandom(8).hex()
        d.remote = re.sub(r";\s*tag=[^;>\s]+", "", d.remote) + \
            ";tag=" + os.urandom(4).hex()
        d.local = re.sub(r";\s*tag=[^;>\s]+", "", d.local) + \
            ";tag=" + os.urandom(4).hex()
        d.cseq = 0
        return self._notify(d, body, "active", None, None, True, timeout)

    def wait_answers(self, timeout=10.0):
        """Wait until every NOTIFY sent is answered (or given up)."""
        L.wait_for(lambda: not self.txs, timeout,
                   "answers to %d NOTIFYs" % len(self.txs), interval=0.05)

    # ------------------------------------------------------------------
    # the thread

    def _run(self):
        while not self._stop.is_set():
            with self.cond:
                nxt = min([t.next for t in self.txs] or
                          [time.monotonic() + 0.2])
            self.sock.settimeout(min(max(nxt - time.monotonic(), 0.001),
                                     0.2))
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                data = None
            except OSError:  # closed; or an ICMP error of a send
                if self._stop.is_set():
                    return
                data = None
            if data and data.strip(b"\r\n\x00"):  # not a keep-alive
                m = L.SipMsg(time.time(), "udp", addr[0], addr[1],
                             self.ip, self.port,
                             data.decode("utf-8", "replace"))
                if m.is_request:
                    self._request(m)
                else:
                    self._response(m)
            self._resend()

    def _resend(self):
        now = time.monotonic()
        with self.cond:
            for t in list(self.txs):
                if now >= t.deadline:
                    t.done, t.msg.status = True, 0
                    self.txs.remove(t)
                    self.cond.notify_all()
                elif now >= t.next:
                    self._send(t.data, t.dst)
                    t.interval = min(t.interval * 2, L.T2)
                    t.next = now + t.interval

    def _send(self, data, addr):
        try:
            self.sock.sendto(data, addr)
        except OSError:  # the phone is gone: its retransmission timer
            pass         # (or the test) sees no answer

    def _response(self, m):
        if m.status < 200:
            return
        branch = branch_of(m)
        with self.cond:
            for t in self.txs:
                if branch_of(t.msg) == branch:
                    t.done, t.msg.status = True, m.status
                    self.txs.remove(t)
                    self.cond.notify_all()
                    return

    def _answer(self, req, status, reason, headers=(), to_tag=None):
        """lab.sip_answer (with our To tag when given), kept for
        retransmissions of req."""
        if to_tag and not tag_of(req.header("to")):
            req = copy.copy(req)
            req.headers = dict(req.headers)
            req.headers["to"] = ["%s;tag=%s" % (req.header("to"), to_tag)]
        tap = _Tap(self.sock)
        L.sip_answer(tap, req, status, reason, headers)
        if branch_of(req):
            self.answered[branch_of(req)] = tap.sent

    def _request(self, m):
        branch = branch_of(m)
        with self.cond:
            if m.method == "ACK":
                return
            if branch and branch in self.answered:
                self.retransmissions += 1
                self._send(*self.answered[branch])
                return
            self.received.append(m)
            m.status = None
            first = None
            if m.method == "REGISTER":
                m.status = self._register(m)
            elif m.method == "OPTIONS":
                self._answer(m, 200, "OK", to_tag=os.urandom(4).hex())
                m.status = 200
            elif m.method == "SUBSCRIBE":
                first = self._subscribe(m)
            else:
                self._answer(m, 405, "Method Not Allowed",
                             ["Allow: REGISTER, OPTIONS, SUBSCRIBE"],
                             to_tag=os.urandom(4).hex())
                m.status = 405
        if first:  # the NOTIFY a SUBSCRIBE brings (outside the lock)
            d, state, reason = first
            n = self._notify(d, None, state, reason, None, False, 32.0)
            n.after_subscribe = True

    def _register(self, m):
        """200 listing the bindings: each Contact with ;expires= the time
        granted (what the phone asked, in the Contact or the Expires
        header, 3600 when neither; at most reg_expires). One asked 0 is
        removed: an un-REGISTER gets a 200 without it."""
        asked = m.header("expires").strip()
        asked = int(asked) if asked.isdigit() else 3600
        grant, contacts = asked, []
        for c in m.headers.get("contact", []):
            p = re.search(r";\s*expires\s*=\s*(\d+)", c)
            grant = int(p.group(1)) if p else asked
            if grant and self.reg_expires is not None:
                grant = min(grant, self.reg_expires)
            if grant:
                contacts.append("Contact: %s;expires=%d" % (
                    re.sub(r";\s*expires\s*=\s*\d+", "", c), grant))
        self._answer(m, 200, "OK", contacts + ["Expires: %d" % grant],
                     to_tag=os.urandom(4).hex())
        return 200

    def _subscribe(self, m):
        """Answer a SUBSCRIBE (lock held); the dialog and state of the
        NOTIFY to send after it, or None."""
        asked = m.header("expires").strip()
        grant = min(int(asked) if asked.isdigit() else 3600, self.expires)
        tag = tag_of(m.header("to"))
        if tag:  # a refresh (or an un-SUBSCRIBE) of a dialog we know?
            d = self.dialogs.get((m.call_id, tag))
            if d is None or d.ended:
                self._answer(m, 481, "Subscription Does Not Exist")
                m.status = 481
                return None
            if self.refresh_code and self.refresh_left != 0:
                if self.refresh_left:
                    self.refresh_left -= 1
                code = self.refresh_code
                self._answer(m, code, "Scripted Answer")
                m.status = code
                if code == 481:
                    d.ended = True
                return None
        else:
            d = Dialog(m, os.urandom(4).hex())
            self.dialogs[(d.call_id, d.local_tag)] = d
        d.target = uri_of(m.header("contact")) or d.target
        d.expires_at = time.monotonic() + grant
        self.dialog = d
        self._answer(m, 200, "OK", ["Contact: " + self.contact,
                                    "Expires: %d" % grant],
                     to_tag=d.local_tag)
        m.status = 200
        if grant == 0:  # un-SUBSCRIBE: the last NOTIFY says so
            d.ended = True
            return d, "terminated", "timeout"
        return d, "active", None

    def _notify(self, d, body, state, reason, retry_after, wait, timeout):
        with self.cond:
            d.cseq += 1
            if state in ("active", "pending"):
                left = math.ceil(max(d.expires_at - time.monotonic(), 0))
                sub_state = "%s;expires=%d" % (state, left)
            else:
                sub_state = state + "".join(
                    ";%s=%s" % (k, v) for k, v in (
                        ("reason", reason), ("retry-after", retry_after))
                    if v is not None)
            text = L.sip_request(self.sock, "NOTIFY", d.target, [
                "From: " + d.local, "To: " + d.remote,
                "Call-ID: " + d.call_id, "CSeq: %d NOTIFY" % d.cseq,
                "Contact: " + self.contact, "Event: " + d.event,
                "Subscription-State: " + sub_state,
                "Content-Type: application/simple-message-summary"],
                self.body if body is None else body)
            dst = dst_of(d.target)
            msg = L.SipMsg(time.time(), "udp", self.ip, self.port, dst[0],
                           dst[1], text)
            msg.status, msg.after_subscribe = None, False
            tx = _Tx(text.encode(), dst, msg, timeout)
            self.txs.append(tx)
            self.sent.append(msg)
            self._send(tx.data, dst)
            if not wait:
                return msg
            end = time.monotonic() + timeout + 1
            while not tx.done and time.monotonic() < end:
                self.cond.wait(end - time.monotonic())
        if not msg.status:
            raise L.LabError("no answer to NOTIFY %s (CSeq %d) from %s "
                             "in %gs" % (sub_state, d.cseq, d.target,
                                         timeout))
        return msg.status
