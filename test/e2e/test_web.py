"""The web page (srvfailover_http_listen): driven in headless Chromium.

Chromium is driven over its DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, answers on fd 4), with the
Python standard library only: it loads the page, reads the table the
page's script keeps up to date, clicks the Deactivate/Activate buttons
with real mouse events and answers the browser's digest password
prompt. Plain HTTP checks (401, 403, 404, 405, 400) use sockets.

The page is at 127.0.0.10:8088, beside baresip's SIP address; Chromium
runs inside the test's network namespace, on loopback only.
"""

import base64
import fcntl
import hashlib
import http.client
import json
import multiprocessing
import os
import re
import resource
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import lab as L
from common import (SERVERS, STEADY, USER, config, registered_on,
                    server_state, start, states_are, wait_status,
                    wait_steady)

# the module's limits (modules/srvfailover/shell/http.c)
CONN_MAX, IDLE_TIMEOUT = 32, 5.0

S1, S2, S3 = SERVERS
CHROMIUM = "/usr/bin/chromium"
HOST, PORT = "127.0.0.10", 8088
BASE = "http://%s:%d/" % (HOST, PORT)
WEB_USER = "admin"
# never printed: failure messages show "<password>" instead
PASSWORD = "Lab-web-pw-7f3a"
LISTEN = "srvfailover_http_listen %s:%d" % (HOST, PORT)
WITH_PASSWORD = [LISTEN, "srvfailover_http_password " + PASSWORD]


def chromium_argv(profile):
    """Headless, loopback only: nothing of its own goes anywhere."""
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=" + profile]


def need_chromium():
    if not os.access(CHROMIUM, os.X_OK):
        raise L.LabError("%s is missing: install the Debian package "
                         "chromium (contrib/install-deps.sh does)"
                         % CHROMIUM)


def hide(text):
    return str(text).replace(PASSWORD, "<password>")


# --------------------------------------------------------------------------
# plain HTTP


def request(method, path, headers=None, body=None):
    """One request on a new connection: (status, {header: value}, text)."""
    c = http.client.HTTPConnection(HOST, PORT, timeout=5)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, \
            r.read().decode("utf-8", "replace")
    finally:
        c.close()


def raw(data, timeout=3):
    """Send raw bytes; return what comes back until the server closes the
    connection or stops talking ('' when it closes without an answer)."""
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out.decode("utf-8", "replace")


def raw_status(text):
    m = re.match(r"HTTP/1\.1 (\d{3}) ", text)
    return int(m.group(1)) if m else None


def digest(method, uri, challenge, user=WEB_USER, password=PASSWORD,
           nc=1):
    """An Authorization header answering a Digest challenge (qop=auth)."""
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))

    def md5(s):
        return hashlib.md5(s.encode()).hexdigest()
    cnonce = os.urandom(8).hex()
    ha1 = md5("%s:%s:%s" % (user, p["realm"], password))
    ha2 = md5("%s:%s" % (method, uri))
    resp = md5("%s:%s:%08x:%s:auth:%s" % (ha1, p["nonce"], nc, cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
            'qop=auth, nc=%08x, cnonce="%s", response="%s"'
            % (user, p["realm"], p["nonce"], uri, nc, cnonce, resp))


def post_authorized(path, password=PASSWORD):
    """POST with the digest answer to a fresh challenge:
    (status, text, the Authorization header used)."""
    st, hdrs, _ = request("POST", path)
    assert st == 401 and "www-authenticate" in hdrs, \
        "POST %s without credentials: %s %s" % (path, st, hdrs)
    auth = digest("POST", path, hdrs["www-authenticate"], password=password)
    st, _, text = request("POST", path, {"Authorization": auth})
    return st, text, auth


# --------------------------------------------------------------------------
# Chromium over the DevTools pipe


class Chromium(L.Proc):
    """Headless Chromium; self.send() runs one DevTools command.

    creds: [(user, password), ...] answered to the password prompts in
    turn; once they are used up, a prompt is cancelled. self.prompts
    counts the prompts.
    """

    def __init__(self, lab, creds=None):
        need_chromium()
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=lab.dir)
        self.cmd_r, self.cmd_w = os.pipe()    # we write, it reads fd 3
        self.out_r, self.out_w = os.pipe()    # it writes fd 4, we read
        # its ends above 4, so that dup2() to 3 and 4 overwrites neither
        for name in ("cmd_r", "out_w"):
            fd = getattr(self, name)
            setattr(self, name, fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5))
            os.close(fd)
        argv = chromium_argv(self.profile) + ["--remote-debugging-pipe",
                                              "about:blank"]
        super().__init__(lab, "chromium", argv, lab.path("chromium.log"))
        self.creds, self.prompts = list(creds or []), 0
        self.next_id, self.answers = 0, {}
        self.cond, self.wlock = threading.Condition(), threading.Lock()
        self.session = None

    def _child(self):
        """preexec_fn: the pipe ends on fds 3 and 4 (inheritable; every
        other fd of ours is close-on-exec)."""
        os.dup2(self.cmd_r, 3)
        os.dup2(self.out_w, 4)
        L._die_with_parent()

    def start(self):
        logf = open(self.log, "ab")
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=logf,
            stderr=subprocess.STDOUT, close_fds=False,
            preexec_fn=self._child)
        logf.close()
        os.close(self.cmd_r)
        os.close(self.out_w)
        self.lab._track(self)
        threading.Thread(target=self._reader, daemon=True).start()
        return self

    def _write(self, msg):
        with self.wlock:
            os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")

    def _reader(self):
        buf = b""
        while True:
            try:
                data = os.read(self.out_r, 65536)
            except OSError:
                data = b""
            if not data:
                with self.cond:
                    self.answers["closed"] = True
                    self.cond.notify_all()
                return
            buf += data
            while b"\0" in buf:
                one, buf = buf.split(b"\0", 1)
                self._dispatch(json.loads(one.decode("utf-8", "replace")))

    def _dispatch(self, msg):
        if "id" in msg:
            with self.cond:
                self.answers[msg["id"]] = msg
                self.cond.notify_all()
            return
        prm, sid = msg.get("params", {}), msg.get("sessionId")
        if msg.get("method") == "Fetch.requestPaused":
            self._write({"id": self._id(), "sessionId": sid,
                         "method": "Fetch.continueRequest",
                         "params": {"requestId": prm["requestId"]}})
        elif msg.get("method") == "Fetch.authRequired":
            self.prompts += 1
            answer = {"response": "CancelAuth"}
            if self.creds:
                user, password = self.creds.pop(0)
                answer = {"response": "ProvideCredentials",
                          "username": user, "password": password}
            self._write({"id": self._id(), "sessionId": sid,
                         "method": "Fetch.continueWithAuth",
                         "params": {"requestId": prm["requestId"],
                                    "authChallengeResponse": answer}})

    def _id(self):
        with self.cond:
            self.next_id += 1
            return self.next_id

    def send(self, method, params=None, session=True, timeout=15):
        i = self._id()
        msg = {"id": i, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self._write(msg)
        deadline = time.monotonic() + timeout
        with self.cond:
            while i not in self.answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.answers.get("closed"):
                    raise L.LabError("chromium: no answer to %s:\n%s" % (
                        method, self.log_tail(10)))
                self.cond.wait(left)
            ans = self.answers.pop(i)
        if "error" in ans:
            raise L.LabError("chromium: %s: %s" % (method, ans["error"]))
        return ans.get("result", {})

    def open(self, url, width=1100, height=460):
        """A new tab on url; password prompts of POSTs are ours."""
        t = self.send("Target.createTarget", {"url": "about:blank"},
                      session=False)
        self.session = self.send("Target.attachToTarget", {
            "targetId": t["targetId"], "flatten": True},
            session=False)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": False})
        self.send("Fetch.enable", {"handleAuthRequests": True, "patterns": [
            {"urlPattern": "*/servers/*"}]})
        self.send("Page.navigate", {"url": url})
        L.wait_for(lambda: self.js("document.readyState") == "complete",
                   10, "page %s to load" % url)
        return self

    def js(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            raise L.LabError("page script: %s" % r["exceptionDetails"])
        return r.get("result", {}).get("value")

    def click(self, selector):
        """A real mouse click in the middle of the element."""
        box = self.js("(function(){var e=document.querySelector(%s);"
                      "if(!e||!e.offsetParent)return null;"
                      "e.scrollIntoView({block:'center'});"
                      "var r=e.getBoundingClientRect();"
                      "return [r.x+r.width/2,r.y+r.height/2];})()"
                      % json.dumps(selector))
        if not box:
            raise L.LabError("nothing visible to click: %s" % selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {
                "type": kind, "x": box[0], "y": box[1], "button": "left",
                "clickCount": 1})

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as f:
            f.write(base64.b64decode(data["data"]))

    def kill(self):
        super().kill()
        for fd in (self.cmd_w, self.out_r):
            try:
                os.close(fd)
            except OSError:
                pass


# What the page shows, read from its DOM
READ_PAGE = """(function () {
 var out = {};
 document.querySelectorAll('section.line').forEach(function (s) {
  var l = {facts: {}, rows: []};
  s.querySelectorAll('.facts b').forEach(function (b) {
   l.facts[b.getAttribute('data-k')] = b.textContent;
  });
  s.querySelectorAll('tbody tr').forEach(function (tr) {
   var r = {working: tr.className === 'working'};
   tr.querySelectorAll('td').forEach(function (td) {
    r[td.getAttribute('data-k')] = td.textContent;
   });
   var b = tr.querySelector('button');
   r.button = b && b.offsetParent ? b.textContent : null;
   l.rows.push(r);
  });
  out[s.getAttribute('data-user')] = l;
 });
 return {lines: out, conn: document.getElementById('conn').textContent,
  msg: document.getElementById('msg').textContent,
  marker: window.sfoMarker || null};
})()"""


def page(ch):
    return ch.js(READ_PAGE)


def page_states(p, user=USER):
    line = p["lines"].get(user)
    if not line:
        return {}
    return {int(r["prio"]): r["state"] for r in line["rows"]}


def wait_page(ch, what, check, timeout):
    """Poll the page (not the module) until check(line of USER)."""
    last = {}

    def probe():
        nonlocal last
        last = page(ch)
        line = last["lines"].get(USER)
        return line if line and check(line) else None
    try:
        return L.wait_for(probe, timeout, "the page to show " + what,
                          interval=0.2)
    except L.LabError as e:
        raise L.LabError("%s; the page shows: %s" % (e, json.dumps(last)))


def page_shows(expect, working=None):
    def check(line):
        got = {int(r["prio"]): r["state"] for r in line["rows"]}
        return all(got.get(p) == s for p, s in expect.items()) and (
            working is None or line["facts"].get("working", "").split(
                " ")[0] == str(working))
    return check


def save_screenshot(lab, ch, name):
    """Into the lab dir; also to $SFO_WEB_SCREENSHOT when it is set
    (how docs/web-page.png is made)."""
    path = lab.path(name)
    ch.screenshot(path)
    if os.environ.get("SFO_WEB_SCREENSHOT"):
        shutil.copyfile(path, os.environ["SFO_WEB_SCREENSHOT"])
    print("screenshot: %s" % path)


def assert_no_password(lab, b, *texts):
    for t in (b.log_text(),) + texts:
        assert PASSWORD not in t, "the password appears in an output"
    chrome = lab.path("chromium.log")
    if os.path.exists(chrome):
        with open(chrome, errors="replace") as f:
            assert PASSWORD not in f.read(), "the password in chromium.log"


# --------------------------------------------------------------------------
# the tests


def test_web_page_follows_failover_and_deactivates(lab):
    need_chromium()
    b, kams = start(lab, "cisco", extra=WITH_PASSWORD)
    wait_steady(b, "cisco")
    assert any("web page on http://%s:%d/" % (HOST, PORT) in l
               for l in b.lines("srvfailover:")), "no 'web page on' line"

    ch = Chromium(lab, creds=[(WEB_USER, PASSWORD)] * 4).start().open(BASE)
    ch.js("window.sfoMarker = 'no reload'")
    line = wait_page(ch, "the steady cisco line",
                     page_shows(STEADY["cisco"], working=1), 10)
    row1 = line["rows"][0]
    assert row1["uri"] == "sip:" + S1 and row1["transport"] == "udp" and \
        row1["working"] and row1["last"] == "200 OK" and \
        row1["failures"] == "0" and row1["rtt"].endswith(" ms") and \
        row1["button"] == "Deactivate", row1
    assert line["facts"]["mode"] == "cisco", line["facts"]

    # server 1 dies: the page follows without a reload
    kams[S1].kill()
    line = wait_page(ch, "working server 2 after kill -9 of " + S1,
                     lambda l: page_shows({2: "Registered", 3: "Reachable"},
                                          working=2)(l) and
                     page_states({"lines": {USER: l}})[1] in
                     ("Registration failed", "Unreachable"), 25)
    assert "server 1" in line["facts"]["last_switch"], line["facts"]
    assert int(line["facts"]["failovers"]) >= 1, line["facts"]
    wait_page(ch, "a failure count and an error for server 1",
              lambda l: int(l["rows"][0]["failures"]) >= 1 and
              l["rows"][0]["last"] not in ("200 OK", "-"), 10)
    save_screenshot(lab, ch, "web-page.png")
    wait_status(b, "JSON agrees: working 2", registered_on("cisco", 2), 5)
    L.wait_for(lambda: page_states(page(ch)) == L.states(b.status(), USER),
               5, "the page and `srvfailover json` to show the same states")

    kams[S1].start()
    wait_page(ch, "fail-back to server 1", lambda l: page_shows(
        STEADY["cisco"], working=1)(l) and int(l["facts"]["failbacks"]) >= 1,
        25)

    # deactivate server 3 through the page (password prompt answered)
    ch.click("section[data-user='%s'] tr[data-prio='3'] button" % USER)
    wait_page(ch, "server 3 Deactivated", page_shows(
        {1: "Registered", 2: "Reachable", 3: "Deactivated"}, working=1), 10)
    wait_status(b, "server 3 Deactivated in the JSON",
                states_are({3: "Deactivated"}), 5)
    assert ch.prompts >= 1, "the browser was never asked for a password"
    p = page(ch)
    assert "deactivated" in p["msg"], p["msg"]
    assert p["lines"][USER]["rows"][2]["button"] == "Activate", p

    ch.click("section[data-user='%s'] tr[data-prio='3'] button" % USER)
    wait_page(ch, "server 3 Reachable again", page_shows(STEADY["cisco"]),
              10)
    wait_status(b, "server 3 Reachable in the JSON",
                states_are(STEADY["cisco"]), 5)
    assert page(ch)["marker"] == "no reload", "the page was reloaded"
    # each nonce is good for one change: the browser's second change
    # gets stale=true and a new one, and does not ask its user again
    assert ch.prompts == 1, "%d password prompts for two changes" \
        % ch.prompts
    assert any("web: disable server 3 of line %s" % USER in l
               for l in b.lines("srvfailover:")), "no log of the change"
    assert_no_password(lab, b, json.dumps(page(ch)))


test_web_page_follows_failover_and_deactivates.timeout = 150


def test_web_wrong_password_in_the_browser_changes_nothing(lab):
    need_chromium()
    b, kams = start(lab, "cisco", extra=WITH_PASSWORD)
    wait_steady(b, "cisco")
    # a wrong password, then the prompt is cancelled
    ch = Chromium(lab, creds=[(WEB_USER, "Wrong-pw-1")]).start()
    ch.open(BASE)
    wait_page(ch, "the steady line", page_shows(STEADY["cisco"]), 10)
    ch.click("section[data-user='%s'] tr[data-prio='2'] button" % USER)
    L.wait_for(lambda: "401" in page(ch)["msg"], 10,
               "the page to report 401 Unauthorized")
    time.sleep(2)
    wait_status(b, "nothing changed", states_are(STEADY["cisco"]), 1)
    assert ch.prompts == 2, "%d password prompts, not 2" % ch.prompts
    assert any("wrong user or password" in l for l in b.lines("web:")), \
        "no log line of the wrong password"
    p = page(ch)
    assert p["lines"][USER]["rows"][1]["button"] == "Deactivate", p
    assert_no_password(lab, b, json.dumps(p))


def test_web_status_json_is_the_json_command(lab):
    b, kams = start(lab, "cisco", extra=[LISTEN])
    wait_steady(b, "cisco")
    st, hdrs, text = request("GET", "/status.json")
    ref = b.status()
    assert st == 200 and hdrs["content-type"] == "application/json", \
        (st, hdrs)
    web = json.loads(text)

    def shape(s):  # what does not tick with time
        for line in s["lines"]:
            for srv in line["servers"]:
                srv.pop("since_s")
                srv.pop("rtt_ms")
        return s
    assert shape(web) == shape(ref), "status.json %s\n!= json %s" % (
        text, ref)
    assert text.startswith('{"lines":[{"user":"100","mode":"cisco",'
                           '"working":1,"servers":[{"prio":1,'), text

    st, hdrs, page_html = request("GET", "/")
    assert st == 200 and hdrs["content-type"].startswith("text/html"), st
    for ext in ("http://", "https://", "src=", "<link", "@import"):
        assert ext not in page_html, "page loads something: %s" % ext
    assert "default-src 'none'" in hdrs.get("content-security-policy", "")
    st, hdrs, body = request("HEAD", "/status.json")
    assert st == 200 and body == "" and int(hdrs["content-length"]) > 0


def test_web_http_errors_change_nothing(lab):
    b, kams = start(lab, "cisco", extra=WITH_PASSWORD)
    wait_steady(b, "cisco")
    path = "/servers/%s/2/disable" % USER
    seen = []

    def expect(code, method, p, headers=None, body=None):
        st, hdrs, text = request(method, p, headers, body)
        seen.append("%s %s -> %s %s" % (method, p, st, text.strip()))
        assert st == code, "%s %s: %s (not %s): %s" % (
            method, p, st, code, hide(text))
        return hdrs

    # no password / a wrong one / an answer made for another request
    hdrs = expect(401, "POST", path)
    assert hdrs["www-authenticate"].startswith('Digest realm="srvfailover"')
    st, text, _ = post_authorized(path, password="not-the-password")
    assert st == 401, (st, text)
    ok_other = post_authorized("/servers/%s/3/enable" % USER)
    assert ok_other[0] == 200, hide(ok_other)
    expect(401, "POST", path, {"Authorization": ok_other[2]})
    # a captured answer does not work twice
    expect(401, "POST", "/servers/%s/3/enable" % USER,
           {"Authorization": ok_other[2]})
    # another site cannot use a browser that knows the password
    st, h, _ = request("POST", path)
    expect(403, "POST", path, {"Origin": "http://evil.example",
                               "Authorization": digest(
                                   "POST", path, h["www-authenticate"])})

    for p in ("/nope", "/status.json/", "/index.html", "/servers",
              "/servers/%s/2" % USER, "/servers/%s/2/reboot" % USER,
              "/servers/%s/2/disable/" % USER):
        expect(404, "GET", p)
    st, text, _ = post_authorized("/servers/999/1/disable")
    assert st == 404 and "no line '999'" in text, (st, text)
    st, text, _ = post_authorized("/servers/%s/7/disable" % USER)
    assert st == 404 and "has no server 7" in text, (st, text)

    hdrs = expect(405, "GET", path)
    assert hdrs.get("allow") == "POST", hdrs
    for m in ("POST", "PUT", "DELETE"):
        hdrs = expect(405, m, "/status.json")
        assert hdrs.get("allow") == "GET, HEAD", hdrs
    expect(405, "OPTIONS", "/")

    for p in ("/servers/%s/x/disable" % USER, "/servers//2/disable",
              "/servers/%s/0/disable" % USER, "/servers/1%2/2/disable"):
        expect(400, "POST", p)
    expect(400, "POST", path, {"Content-Type": "text/plain"}, body="now")
    for data in (b"GET / HTTP/1.1\r\n\r\n",                      # no Host
                 b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
                 b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                 b"chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" % path.encode()):
        text = raw(data)
        seen.append("%r -> %s" % (data[:30], text.split("\r\n")[0]))
        assert raw_status(text) == 400, "%r: %r" % (data, text[:200])
    # libre's parser drops what is not an HTTP request line at all
    text = raw(b"\x16\x03\x01 hello there\r\n\r\n")
    assert text == "" or raw_status(text) == 400, repr(text[:200])

    time.sleep(0.5)
    st = b.status()
    assert states_are(STEADY["cisco"])(L.line_of(st, USER)), st
    assert not [l for l in b.lines("srvfailover:")
                if "Deactivated" in l and "server 2" in l], \
        "server 2 was deactivated"
    print("\n".join(hide(s) for s in seen))
    assert_no_password(lab, b, "\n".join(seen))


def test_web_read_only_without_password(lab):
    need_chromium()
    b, kams = start(lab, "parallel", extra=[LISTEN])
    wait_steady(b, "parallel")
    assert any("read-only" in l for l in b.lines("web page on"))

    # chromium --dump-dom: the page after its script ran
    profile = tempfile.mkdtemp(prefix="chromium-", dir=lab.dir)
    r = subprocess.run(chromium_argv(profile) + [
        "--virtual-time-budget=4000", "--dump-dom", BASE],
        capture_output=True, text=True, timeout=60)
    dom = r.stdout
    assert "<body class=\"ro\"" in dom and 'data-writable="0"' in dom, \
        dom[:2000]
    for prio, state in STEADY["parallel"].items():
        assert re.search(r'data-prio="%d"[^>]*>(?:(?!</tr>).)*'
                         r'<span class="st ok">%s</span>'
                         % (prio, re.escape(state)), dom, re.S), \
            "row %d %s not in the page:\n%s" % (prio, state, dom[-4000:])
    assert "Read-only" in dom

    st, hdrs, text = request("POST", "/servers/%s/1/disable" % USER)
    assert st == 403 and "read-only" in text, (st, text)
    auth = 'Digest username="admin", realm="srvfailover", nonce="%s", ' \
        'uri="/servers/100/1/disable", response="%s"' % ("0" * 40, "0" * 32)
    st, hdrs, text = request("POST", "/servers/%s/1/disable" % USER,
                             {"Authorization": auth})
    assert st == 403, (st, text)
    wait_status(b, "nothing changed", states_are(STEADY["parallel"]), 2)


def baresip_again(lab, extra):
    """A fresh baresip (the one before is stopped) with these config
    lines; returns it once the line is steady. The log of the one before
    is kept as baresip-N.log."""
    if lab.baresip_proc:
        lab.baresip_proc.terminate()
    n = 1
    while os.path.exists(lab.path("baresip-%d.log" % n)):
        n += 1
    os.rename(lab.path("baresip.log"), lab.path("baresip-%d.log" % n))
    shutil.rmtree(lab.path(os.path.join("baresip", "modules")))
    b = lab.baresip(lab.module, srvfailover=config("cisco"), extra=extra)
    wait_steady(b, "cisco")
    return b


def test_web_listen_default_off_and_bad_value(lab):
    b, kams = start(lab, "cisco")
    wait_steady(b, "cisco")
    L.wait_for(lambda: L.bound("127.0.0.1", PORT, "tcp"), 5,
               "the default 127.0.0.1:%d" % PORT)
    st, _, text = request_at("127.0.0.1", "/status.json")
    assert st == 200 and json.loads(text)["lines"], (st, text)

    b = baresip_again(lab, ["srvfailover_http_listen off"])
    assert not L.bound("127.0.0.1", PORT, "tcp")
    assert not b.lines("web page"), b.lines("web page")

    for bad in ("127.0.0.1:99999", "nowhere:80", "127.0.0.1:"):
        b = baresip_again(lab, ["srvfailover_http_listen " + bad])
        warn = [l for l in b.lines("srvfailover_http_listen")
                if bad in l]
        assert warn, "no warning naming srvfailover_http_listen for %r:" \
            "\n%s" % (bad, b.log_tail(20))
        assert not L.bound("127.0.0.1", PORT, "tcp")
        b.command("srvfailover disable %s 3" % USER)
        wait_status(b, "the module still works", states_are(
            {3: "Deactivated"}), 5)


test_web_listen_default_off_and_bad_value.timeout = 120


def request_at(host, path):
    c = http.client.HTTPConnection(host, PORT, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


# --------------------------------------------------------------------------
# a flood of connections; a captured change played again


FLOOD = 2000                 # connection attempts kept in flight
FLOOD_RATE = 3000            # new ones a second at most, after the first
FLOOD_SECONDS = 40           # at most this long
FLOOD_MAX = FLOOD + FLOOD_RATE * FLOOD_SECONDS   # so at most this many
FLOOD_SOURCES = 100          # 127.0.1.1, ...: ports enough for all
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: the port is chosen at connect


_FORK = multiprocessing.get_context("fork")


def _shared(i):
    """A count the flood's process and the test's both see."""
    return property(lambda self: self.counts[i],
                    lambda self, v: self.counts.__setitem__(i, v))


class Flood(_FORK.Process):
    """FLOOD connection attempts to the page at once, none sending a
    byte, then each one the module closes is opened again (FLOOD_RATE a
    second at most: the module closes them as fast as they come) until
    stop(). Bounded in count and time; every socket is closed at the
    end. Also samples how many descriptors the baresip with pid has
    open. A process of its own: in a thread of the test's, it held
    Python's lock while the test's own request waited to be sent, and
    on a loaded machine the module rightly closed that silent
    connection as the one idle longest."""

    opened, closed, failed, fds_max = (_shared(i) for i in range(4))

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.baresip_pid = pid
        self.counts = _FORK.RawArray("l", 4)
        self.halt = _FORK.Event()
        self.full = _FORK.Event()  # FLOOD in flight at least once
        self.error = _FORK.RawArray("c", 512)

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind(("127.0.1.%d" % (1 + self.opened % FLOOD_SOURCES), 0))
            s.setblocking(False)
            s.connect_ex((HOST, PORT))
        except OSError:
            s.close()
            self.failed += 1
            return
        self.opened += 1
        self.socks.add(s)
        self.sel.register(s, selectors.EVENT_READ)

    def _drop(self, s):
        self.sel.unregister(s)
        self.socks.discard(s)
        s.close()
        self.closed += 1

    def _sample(self):
        try:
            n = len(os.listdir("/proc/%d/fd" % self.baresip_pid))
        except OSError:
            return
        self.fds_max = max(self.fds_max, n)

    def run(self):
        t0 = time.monotonic()
        sampled = 0.0
        self.sel = selectors.DefaultSelector()
        self.socks = set()
        try:
            while not self.halt.is_set() and \
                    time.monotonic() - t0 < FLOOD_SECONDS:
                budget = min(FLOOD_MAX, FLOOD + int(
                    FLOOD_RATE * (time.monotonic() - t0)))
                while len(self.socks) < FLOOD and self.opened < budget:
                    self._open()
                if len(self.socks) >= FLOOD:
                    self.full.set()
                for key, _ in self.sel.select(0.01):
                    try:
                        if key.fileobj.recv(1):
                            continue     # the module says something?
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    self._drop(key.fileobj)
                if time.monotonic() - sampled > 0.1:
                    sampled = time.monotonic()
                    self._sample()
        except Exception as e:  # reported by stop()
            self.error.value = repr(e).encode()[:511]
        finally:
            for s in list(self.socks):
                self._drop(s)
            self.sel.close()

    def running(self):
        """Still flooding: alive, within its bounds."""
        return self.is_alive() and self.opened < FLOOD_MAX

    def rate(self):
        """Connections opened a second, over the last 0.5 s."""
        n, t = self.opened, time.monotonic()
        time.sleep(0.5)
        return (self.opened - n) / (time.monotonic() - t)

    def stop(self):
        self.halt.set()
        self.join(10)
        if self.error.value:
            raise L.LabError("the flood: " + self.error.value.decode())
        return "flood: %d connections opened (%d could not), %d closed " \
            "by the module or at the end; baresip had at most %d " \
            "descriptors" % (self.opened, self.failed, self.closed,
                             self.fds_max)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def raise_nofile(n):
    """Descriptors enough for the flood, in this test process only
    (baresip, started before, keeps its own limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            raise L.LabError("RLIMIT_NOFILE hard limit %d < %d" % (hard, n))
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def timed_get(path):
    t = time.monotonic()
    st, _, text = request("GET", path)
    return st, text, time.monotonic() - t


def attempt(failures, what, step):
    """Run step(); a failure is noted, and the next step still runs."""
    try:
        step()
    except (L.LabError, AssertionError, OSError, ValueError,
            http.client.HTTPException) as e:
        failures.append("%s: %s: %s" % (what, type(e).__name__, e))


def test_web_flood_of_connections_phone_keeps_working(lab):
    """2000 connection attempts to the page in flight: the page, a new
    ctrl_tcp client and a new registration over TCP still work, and
    baresip holds no more than CONN_MAX descriptors for the page."""
    text = config("sequential").replace("transport=udp", "transport=tcp")
    b, kams = start(lab, srvfailover=text, extra=WITH_PASSWORD)
    wait_steady(b, "sequential")
    base = fd_count(b.pid)
    raise_nofile(FLOOD + 1024)
    report, failures = [], []

    def page(path):
        # A connection that has not sent its request yet may be the one
        # idle longest when 32 newer ones come in a few ms (3000 a
        # second here, on a loaded machine): closed, as designed. The
        # page polls again 1.5 s later; so does this, twice at most.
        for i in range(3):
            try:
                st, text, took = timed_get(path)
                break
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError) as e:
                report.append("GET %s: %s, again" % (path,
                                                     type(e).__name__))
                if i == 2:
                    raise
        report.append("GET %s: %d in %.3fs" % (path, st, took))
        assert st == 200 and text, (st, text[:200])
        assert took < 2, "GET %s took %.2fs" % (path, took)

    def registration():
        # over a new TCP connection: server 2 was idle (sequential)
        t = time.time()
        b.command("srvfailover disable %s 1" % USER)
        wait_status(b, "registered on server 2 over TCP",
                    registered_on("sequential", 2), 10)
        ok = lab.wire_until(lambda m: L.registers_ok(m, S2, since=t), 5,
                            "REGISTER to %s answered 200" % S2)
        report.append("REGISTER to %s over %s: 200 after %.3fs" % (
            S2, ok[0][0].transport, ok[0][1].t - t))
        assert ok[0][0].transport == "tcp", ok[0][0]
        L.wait_for(lambda: kams[S2].contacts(USER), 5, "contact at " + S2)
        b.command("srvfailover enable %s 1" % USER)
        wait_status(b, "back on server 1", registered_on("sequential", 1),
                    10)

    def ctrl_client():
        # ctrl_tcp keeps one client: a new one replaces ours
        t = time.monotonic()
        ctrl = L.Ctrl(b.ctrl_addr, timeout=5)
        b.ctrl.close()
        b.ctrl = ctrl
        st = b.status()
        took = time.monotonic() - t
        report.append("new ctrl_tcp client, srvfailover json: %.3fs"
                      % took)
        assert L.line_of(st, USER), st
        assert took < 3, "ctrl_tcp took %.2fs" % took

    flood = Flood(b.pid)
    flood.start()
    try:
        if not flood.full.wait(20):
            raise L.LabError("the flood never had %d in flight" % FLOOD)
        time.sleep(0.5)
        rate = flood.rate()
        report.append("flooding: %d attempts in flight at first, then %.0f"
                      " new ones a second" % (FLOOD, rate))
        for i in range(3):
            attempt(failures, "the page", lambda: page("/status.json"))
        attempt(failures, "ctrl_tcp", ctrl_client)
        attempt(failures, "registration", registration)
        attempt(failures, "the page", lambda: page("/"))
        if not flood.running():
            failures.append("the flood ended before the checks did")
    finally:
        report.append(flood.stop())
        report.append("baresip had %d descriptors before the flood" % base)
        print("\n".join(report))

    assert not failures, "in the flood:\n" + "\n".join(failures)
    assert flood.fds_max <= base + CONN_MAX + 10, \
        "baresip had %d descriptors in the flood, %d before" % (
            flood.fds_max, base)
    assert not b.lines("Too many open files"), b.lines("Too many open")
    assert b.lines("web: more than %d connections" % CONN_MAX), \
        "no log line of the flood"
    # an idle connection goes after IDLE_TIMEOUT
    s = socket.create_connection((HOST, PORT), timeout=IDLE_TIMEOUT + 5)
    t = time.monotonic()
    try:
        assert s.recv(1) == b"", "the module said something"
    finally:
        s.close()
    took = time.monotonic() - t
    assert IDLE_TIMEOUT - 0.5 <= took <= IDLE_TIMEOUT + 1, \
        "an idle connection was closed after %.1fs" % took
    L.wait_for(lambda: fd_count(b.pid) <= base + 2, 10,
               "baresip's descriptors back to %d" % base)


test_web_flood_of_connections_phone_keeps_working.timeout = 120


def test_web_captured_change_refused_after_any_number_of_changes(lab):
    """Each digest nonce is good for one change: a captured request
    (its Authorization header) is refused right after and still after
    34 other changes (remembering the last 32 answers was not enough)."""
    b, kams = start(lab, "cisco", extra=WITH_PASSWORD)
    wait_steady(b, "cisco")
    path = "/servers/%s/3/disable" % USER
    st, text, captured = post_authorized(path)
    assert st == 200, hide(text)
    wait_status(b, "server 3 Deactivated", states_are({3: "Deactivated"}),
                5)
    st, text, _ = post_authorized("/servers/%s/3/enable" % USER)
    assert st == 200, hide(text)

    def replay(when):
        st, hdrs, text = request("POST", path, {"Authorization": captured})
        assert st == 401, "the captured request played again %s: %s %s" \
            % (when, st, hide(text))
        line = L.line_of(b.status(), USER)
        assert server_state(line, 3) != "Deactivated", \
            "server 3 deactivated by the replay %s" % when
        return hdrs.get("www-authenticate", "")

    challenges = [replay("right after")]
    for i in range(34):
        verb = "disable" if i % 2 == 0 else "enable"
        st, text, _ = post_authorized("/servers/%s/2/%s" % (USER, verb))
        assert st == 200, "change %d: %s %s" % (i, st, hide(text))
    challenges.append(replay("after 34 other changes"))
    changes = [l for l in b.lines("web: disable server 3 of line")]
    assert len(changes) == 1, changes
    # the answer was right, its nonce used: a client may ask again with
    # a new nonce without asking its user (RFC 7616 stale)
    for c in challenges:
        assert "stale=true" in c, c
    assert_no_password(lab, b)


test_web_captured_change_refused_after_any_number_of_changes.timeout = 90
