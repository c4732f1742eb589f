"""The phone's state on an MQTT broker (issue 17), against Debian's
mosquitto in the lab; read with python3-paho-mqtt as a collector would.

srvfailover_mqtt_broker in baresip's config: retained PREFIX/ID/state
(the json object, "phone", "online") at connection and after every
change, an event per switch on PREFIX/ID/event, the Last Will
{"phone":ID,"online":false}; reconnection by itself.
"""

import json
import os
import subprocess
import sys
import threading
import time

import lab as L
from common import (AUTH_DEFAULT, PW, SERVERS, config, other_module,
                    registered_on, start, wait_steady)

PHONE_ID = "pi-desk-1"
MQTT = ["srvfailover_mqtt_broker %s" % L.BROKER,
        "srvfailover_mqtt_id " + PHONE_ID]


class Collector:
    """Every message on srvfailover/# with its time; the retained state
    of each phone as a collector that subscribes now would see it."""

    def __init__(self, ip=L.BROKER):
        self.msgs, self.lock = [], threading.Lock()
        self.subscribed = threading.Event()
        self.c = L.mqtt_client()
        self.c.on_message = self._message
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(
            "srvfailover/#", qos=1)
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect(ip, 1883, 30)
        self.c.loop_start()
        # (what is published from now on comes live, with its time)
        L.wait_for(self.subscribed.is_set, 10, "the collector subscribed")

    def _message(self, c, u, m):
        with self.lock:
            self.msgs.append((time.time(), m.topic, m.payload.decode(),
                              bool(m.retain)))

    def of(self, topic, since=0.0):
        with self.lock:
            return [(t, json.loads(p)) for t, tp, p, _ in self.msgs
                    if tp == topic and t >= since]

    def wait(self, topic, check, timeout, since=0.0, what=None):
        def found():
            return next((m for t, m in self.of(topic, since) if check(m)),
                        None)
        return L.wait_for(found, timeout, what or "a message on " + topic,
                          interval=0.05)

    def raw(self):
        with self.lock:
            return "\n".join(p for _, _, p, _ in self.msgs)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def state_topic(phone=PHONE_ID):
    return "srvfailover/%s/state" % phone


def working(prio):
    return lambda m: bool(m.get("online") and m["lines"] and
                          m["lines"][0].get("working") == prio)


def retained(ip=L.BROKER, topic=None, timeout=3):
    """The retained message a new subscriber gets at once ({} when none
    comes within timeout, or the broker cannot be reached)."""
    got = []
    c = L.mqtt_client()
    c.on_message = lambda cl, u, m: got.append(
        (m.retain, m.payload.decode()))
    c.on_connect = lambda cl, u, f, rc: cl.subscribe(
        topic or state_topic(), qos=1)
    try:
        c.connect(ip, 1883, 30)
    except OSError:
        return {}
    c.loop_start()
    try:
        # (a live message may come first: it is not the retained one)
        kept = L.wait_for(lambda: [p for r, p in got if r], timeout,
                          "the retained state", interval=0.05)
    except L.LabError:
        kept = ["{}"]
    finally:
        c.loop_stop()
        c.disconnect()
    try:
        return json.loads(kept[0])
    except ValueError:
        return {"unreadable": kept[0]}


def test_fleet_state_events_and_last_will(lab):
    lab.mosquitto()
    col = Collector()
    b, kams = start(lab, "cisco", extra=MQTT)
    try:
        st = col.wait(state_topic(), working(1), 10, what="working 1")
        assert st["phone"] == PHONE_ID and st["online"] is True, st
        assert st["lines"][0]["servers"][0]["state"] == "Registered", st
        assert retained() == retained()   # a collector that comes later

        wait_steady(b, "cisco")
        t = time.time()
        kams[SERVERS[0]].kill()
        ev = col.wait("srvfailover/%s/event" % PHONE_ID,
                      lambda m: m.get("to") == 2, 20, t, "a switch event")
        assert ev["from"] == 1 and ev["user"] == "100", ev
        assert ev["reason"], ev
        col.wait(state_topic(), working(2), 5, t, "the state on server 2")
        assert working(2)(retained())

        assert PW not in col.raw(), "a password on the broker"

        t = time.time()
        b.ctrl.request("quit")
        L.wait_for(lambda: b.popen.poll() is not None, 5, "baresip to quit")
        col.wait(state_topic(), lambda m: m.get("online") is False, 5, t,
                 "offline when baresip quits")
        assert retained() == {"phone": PHONE_ID, "online": False}
    finally:
        col.close()


def test_fleet_last_will_and_reconnection(lab):
    """SIGKILL: the broker says offline (the Last Will). The broker
    restarted (no persistence): the phone connects again by itself and
    its state is back; a phone started while the broker is down
    registers at once and appears when the broker does."""
    broker = lab.mosquitto()
    b, _ = start(lab, "cisco", extra=MQTT)
    wait_steady(b, "cisco")
    L.wait_for(lambda: working(1)(retained()), 10, "the state retained")

    broker.kill()
    broker = lab.mosquitto()
    t = time.time()
    L.wait_for(lambda: working(1)(retained()), 15,
               "the state again after the broker's restart")
    print("state back %.1f s after the broker's restart" % (time.time() - t))
    assert b.running()

    b.kill()
    L.wait_for(lambda: retained().get("online") is False, 5,
               "offline (the Last Will) after SIGKILL")

    broker.kill()
    b2 = lab.baresip(lab.module, srvfailover=config("cisco"), extra=MQTT)
    wait_steady(b2, "cisco")          # registers while MQTT is down
    assert b2.lines("MQTT: %s:1883" % L.BROKER), b2.lines("MQTT")
    lab.mosquitto()
    L.wait_for(lambda: working(1)(retained()), 40,
               "the phone on the broker once it is up")
    assert registered_on("cisco", 1)(b2.status()["lines"][0])


CTL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "contrib", "srvfailover-ctl")


def fleet(*args):
    """srvfailover-ctl fleet against the lab's broker: (status, out)."""
    r = subprocess.run([sys.executable, CTL, "fleet", "--broker",
                        L.BROKER] + list(args), capture_output=True,
                       text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def simulate(phone, payload):
    """A retained state as another phone (b"": the message removed)."""
    c = L.mqtt_client()
    c.connect(L.BROKER, 1883, 30)
    c.loop_start()
    c.publish(state_topic(phone), payload, qos=1, retain=True
              ).wait_for_publish()
    c.loop_stop()
    c.disconnect()


def test_fleet_view_and_its_exit_status(lab):
    """One real phone and simulated ones (another on its first server,
    an offline one, a garbage state): the table puts the offline and
    unreadable first, --json lists every phone, the status is 2; without
    them 0; the real phone on its backup 1; back on server 1 0."""
    lab.mosquitto()
    b, kams = start(lab, "cisco", extra=MQTT)
    wait_steady(b, "cisco")
    L.wait_for(lambda: working(1)(retained()), 10, "the phone's state")
    ok = retained()
    ok["phone"] = "sim-ok"
    simulate("sim-ok", json.dumps(ok))
    simulate("sim-off", json.dumps({"phone": "sim-off", "online": False}))
    simulate("sim-bad", b"\x00not json" * 100)

    rc, out = fleet()
    assert rc == 2, out
    rows = out.splitlines()
    assert rows[0].split()[:2] == ["PHONE", "LINE"], out
    assert rows[1].startswith("sim-bad") and "unreadable" in rows[1], out
    assert rows[2].startswith("sim-off") and "offline" in rows[2], out
    assert "4 phones: 2 on their first servers, 0 on a backup, 0 with a" \
        " line on no server, 1 offline, 1 unreadable" in out, out

    rc, out = fleet("--json")
    assert rc == 2, out
    phones = {p["phone"]: p for p in json.loads(out)["phones"]}
    assert set(phones) == {PHONE_ID, "sim-ok", "sim-off", "sim-bad"}
    assert phones[PHONE_ID]["lines"][0]["working"] == 1
    assert phones["sim-off"] == {"phone": "sim-off", "online": False,
                                 "lines": []}, phones["sim-off"]

    simulate("sim-off", b"")
    simulate("sim-bad", b"")
    rc, out = fleet()
    assert rc == 0, out

    kams[SERVERS[0]].kill()
    L.wait_for(lambda: working(2)(retained()), 20, "the phone on server 2")
    rc, out = fleet()
    assert rc == 1, out
    row = next(r for r in out.splitlines() if r.startswith(PHONE_ID))
    assert "2 sip:127.0.0.3" in row and "Registered" in row, row
    assert out.splitlines()[1].startswith(PHONE_ID), out  # backup first

    kams[SERVERS[0]].restart()
    L.wait_for(lambda: working(1)(retained()), 30, "the phone back on 1")
    rc, out = fleet("--json")
    assert rc == 0, out


def test_fleet_switch_is_a_module_event(lab):
    """baresip 1.1.0 and 4.x: a switch is also a module event, so
    ctrl_tcp (and baresip's own mqtt) see it:
    srvfailover,switch,USER,FROM,TO,REASON."""
    b, kams = start(lab, "cisco")
    wait_steady(b, "cisco")
    t = time.time()
    kams[SERVERS[0]].kill()

    def switch(prefix):
        return [e for e in b.ctrl.events_of("MODULE", t)
                if e.get("param", "").startswith(prefix)]
    # (cisco: through a moment without a working server, 1 -> none;
    # the switch to 2 is told from 1 too)
    ev = L.wait_for(lambda: switch("srvfailover,switch,100,1,2,"), 20,
                    "a MODULE event for the switch 1 -> 2")
    assert "server 1" in ev[0]["param"], ev
    assert len(switch("srvfailover,switch,")) <= 2, \
        switch("srvfailover,switch,")


test_fleet_switch_is_a_module_event.baresip = ("1.1.0", "4.10.0")


def test_fleet_tls_and_password_never_shown(lab):
    """A broker with TLS (the lab's certificate as the phone's CA file)
    and a password file: the phone connects and its state is there; its
    password is in no log line and no message. A wrong password: refused,
    said once, the phone works on."""
    ip, pw = "127.0.0.25", "Mq-lab-pw-5c1e"
    cert, _ = lab.tls_cert()
    lab.mosquitto(ip=ip, port=8883, tls=True, users={"phones": pw})
    conf = ["srvfailover_mqtt_broker " + ip, "srvfailover_mqtt_id tls-1",
            "srvfailover_mqtt_cafile " + cert,
            "srvfailover_mqtt_user phones"]
    b, _ = start(lab, "cisco", extra=conf + [
        "srvfailover_mqtt_password " + pw])
    wait_steady(b, "cisco")
    L.wait_for(lambda: b.lines("MQTT: connected to %s:8883" % ip), 10,
               "the phone connected over TLS")

    got = []
    c = L.mqtt_client()
    c.tls_set(ca_certs=cert)
    c.username_pw_set("phones", pw)
    c.on_message = lambda cl, u, m: got.append(m.payload.decode())
    c.on_connect = lambda cl, u, f, rc: cl.subscribe(
        "srvfailover/tls-1/state", qos=1)
    c.connect(ip, 8883, 30)
    c.loop_start()
    try:
        L.wait_for(lambda: got, 5, "the state over TLS")
    finally:
        c.loop_stop()
        c.disconnect()
    assert working(1)(json.loads(got[0])), got[0]
    assert pw not in got[0] and pw not in b.log_text()
    b.terminate()

    b = lab.baresip(lab.module, srvfailover=config("cisco"),
                    extra=conf + ["srvfailover_mqtt_password wrong-one"])
    wait_steady(b, "cisco")
    L.wait_for(lambda: b.lines("MQTT: %s:8883: " % ip), 10,
               "the refusal said")
    time.sleep(3)
    said = [x for x in b.lines("MQTT: %s:8883: " % ip)
            if "trying again" in x]
    assert len(said) == 1, said
    assert "wrong-one" not in b.log_text()


def test_fleet_hostile_broker_input_changes_nothing(lab):
    """Garbage, a retained garbage state and a 1 MB message on the
    phone's own topics: the phone subscribes to nothing, runs on, its
    registration untouched; its next change puts its real state back."""
    lab.mosquitto()
    b, kams = start(lab, "cisco", extra=MQTT)
    wait_steady(b, "cisco")
    L.wait_for(lambda: working(1)(retained()), 10, "the phone's state")
    c = L.mqtt_client()
    c.connect(L.BROKER, 1883, 30)
    c.loop_start()
    for topic in (state_topic(), "srvfailover/%s/event" % PHONE_ID,
                  "srvfailover/%s/command" % PHONE_ID):
        for payload in (b"\x00\xff{", b"{}" * 500000, b'{"online":1}'):
            c.publish(topic, payload, qos=1).wait_for_publish()
    c.publish(state_topic(), b"garbage", qos=1,
              retain=True).wait_for_publish()
    c.loop_stop()
    c.disconnect()
    time.sleep(1)
    assert b.running(), "baresip ended"
    assert registered_on("cisco", 1)(b.status()["lines"][0])
    assert retained() == {"unreadable": "garbage"}

    b.command("srvfailover disable 100 3")   # a change
    L.wait_for(lambda: retained().get("online") is True, 5,
               "the phone's own state back")


# --------------------------------------------------------------------------
# a fleet: both Debian baresips, one broker, three servers

FLEET = 22          # phones: half trixie's baresip 1.1.0, half bookworm's
FLEET_SIP = 5100    # phone i: SIP on PHONE:FLEET_SIP+10*i (TLS the next
FLEET_CTRL = 4500   # port), ctrl_tcp on 127.0.0.1:FLEET_CTRL+i, no web page


def fleet_phones(lab):
    """FLEET phones with the module, each its own config dir, SIP port,
    ctrl_tcp port, line (user 200+i on the 3 servers, cisco mode) and
    MQTT id: the even ones the lab's baresip (trixie's 1.1.0, chrooted),
    the odd ones this machine's (bookworm's 1.0.0) with the other build.
    Returns {id: (baresip, time before its start)}."""
    phones = {}
    for i in range(FLEET):
        host = i % 2 == 1
        pid = "%s-%02d" % ("bookworm" if host else "trixie", i)
        t = time.time()
        b = lab.baresip(
            other_module("1.0.0") if host else lab.module,
            name="phone-" + pid, root="" if host else None,
            srvfailover=config("cisco", user=str(200 + i)),
            listen="%s:%d" % (L.PHONE, FLEET_SIP + 10 * i),
            ctrl="127.0.0.1:%d" % (FLEET_CTRL + i),
            extra=["srvfailover_mqtt_broker " + L.BROKER,
                   "srvfailover_mqtt_id " + pid,
                   "srvfailover_http_listen off"])
        phones[pid] = (b, t)
    return phones


def states_since(col, since=0.0):
    """{phone: [(arrival, state)]} of the state messages since then."""
    out = {}
    with col.lock:
        msgs = list(col.msgs)
    for t, topic, payload, _ in msgs:
        parts = topic.split("/")
        if t >= since and len(parts) == 3 and parts[2] == "state":
            try:
                out.setdefault(parts[1], []).append((t, json.loads(
                    payload)))
            except ValueError:
                out.setdefault(parts[1], []).append((t, {}))
    return out


def wait_all(col, ids, check, timeout, since, what):
    """Until every phone's latest state (since then) passes check."""
    left = set(ids)

    def done():
        st = states_since(col, since)
        left.clear()
        left.update(p for p in ids if not (st.get(p) and check(
            st[p][-1][1])))
        return not left
    try:
        L.wait_for(done, timeout, what, interval=0.2)
    except L.LabError as e:
        last = states_since(col)
        raise L.LabError("%s; not yet: %s" % (e, "; ".join(
            "%s %s" % (p, last[p][-1][1].get("lines") if last.get(p)
                       else "no state") for p in sorted(left)[:4])))


def retained_states(n, timeout=5):
    """The retained states a new collector gets at once: {phone: state}
    (waits until n came, or timeout)."""
    got = {}
    c = L.mqtt_client()
    c.on_message = lambda cl, u, m: m.retain and got.setdefault(
        m.topic.split("/")[1], json.loads(m.payload.decode()))
    c.on_connect = lambda cl, u, f, rc: cl.subscribe(
        "srvfailover/+/state", qos=1)
    c.connect(L.BROKER, 1883, 30)
    c.loop_start()
    try:
        L.wait_for(lambda: len(got) >= n, timeout,
                   "%d retained states" % n, interval=0.05)
    except L.LabError:
        pass
    finally:
        c.loop_stop()
        c.disconnect()
    return dict(got)


def check_switches(col, ids, since, frm, to, key):
    """Every phone: one event of its switch frm -> to since then (a
    moment without a working server before it is one event from frm
    too, to null); its state with `to` within 2 s of that event (the
    module publishes the event at the moment of the switch); the switch
    counted in both. Returns the slowest event-to-state delay."""
    worst = 0.0
    states = states_since(col, since)
    for p in ids:
        evs = col.of("srvfailover/%s/event" % p, since)
        assert evs and all(e["phone"] == p and e["from"] == frm and
                           e["to"] in (to, None) for _, e in evs) and \
            [e["to"] for _, e in evs].count(to) == 1 and \
            len(evs) <= 2, "%s: events %s" % (p, [e for _, e in evs])
        te, ev = next((t, e) for t, e in evs if e["to"] == to)
        ts, st = next((t, s) for t, s in states[p] if working(to)(s))
        worst = max(worst, ts - te)
        assert ts - te <= 2.0, "%s: the state shows server %d %.2f s " \
            "after the switch event" % (p, to, ts - te)
        assert st["lines"][0][key] == ev[key] >= 1, (p, ev, st)
    return worst


def test_fleet_of_22_phones_on_both_baresips(lab):
    """One broker, three servers, 22 phones: 11 trixie baresips 1.1.0
    and 11 bookworm baresips 1.0.0 with their builds. Every phone's
    retained state is on the broker within 10 s of its start; server 1
    fails: every phone's state shows server 2 within 2 s of its switch
    event (one per switch); the fleet view lists every phone and exits
    1; server 1 back: every phone back on it, an event each, exit 0."""
    lab.mosquitto()
    col = Collector()
    kams = {ip: lab.kamailio(ip, auth_pw=PW if AUTH_DEFAULT else None)
            for ip in SERVERS}
    phones = fleet_phones(lab)
    ids = sorted(phones)
    try:
        for pid, (b, _) in phones.items():
            want = "v1.0.0" if pid.startswith("bookworm") else "v1.1.0"
            L.wait_for(lambda: b.lines("baresip " + want), 10,
                       "%s: baresip %s" % (pid, want))

        # every phone's state on the broker within 10 s of its start
        last = max(t for _, t in phones.values())
        L.wait_for(lambda: len(states_since(col)) >= FLEET or
                   time.time() > last + 10, 11, interval=0.2)
        first = states_since(col)
        late = {p: "%.1f s" % (first[p][0][0] - phones[p][1])
                if p in first else "none" for p in ids
                if p not in first or first[p][0][0] - phones[p][1] > 10}
        assert not late, "states not within 10 s of start: %s" % late
        print("states on the broker %.1f s after start at most" % max(
            first[p][0][0] - phones[p][1] for p in ids))

        wait_all(col, ids, lambda s: working(1)(s) and [
            x["state"] for x in s["lines"][0]["servers"]] == [
            "Registered", "Reachable", "Reachable"], 30, 0,
            "every phone registered on server 1, 2 and 3 reachable")
        kept = retained_states(FLEET)
        assert sorted(kept) == ids and all(
            working(1)(s) for s in kept.values()), kept
        rc, out = fleet("--json")
        assert rc == 0, out

        # server 1 fails
        t = time.time()
        kams[SERVERS[0]].kill()
        wait_all(col, ids, working(2), 40, t, "every phone on server 2")
        worst = check_switches(col, ids, t, 1, 2, "failovers")
        print("failover: state %.2f s after the switch event at most"
              % worst)
        rc, out = fleet("--json")
        assert rc == 1, out
        listed = {p["phone"]: p for p in json.loads(out)["phones"]}
        assert sorted(listed) == ids, sorted(listed)
        assert all(p["online"] and p["lines"][0]["working"] == 2
                   for p in listed.values()), out

        # fail-back: server 1 restarted
        t = time.time()
        kams[SERVERS[0]].restart()
        wait_all(col, ids, working(1), 40, t, "every phone back on 1")
        worst = check_switches(col, ids, t, 2, 1, "failbacks")
        print("fail-back: state %.2f s after the switch event at most"
              % worst)
        rc, out = fleet("--json")
        assert rc == 0, out
        assert sorted(p["phone"] for p in json.loads(out)["phones"]) == ids

        assert PW not in col.raw(), "a password on the broker"
        dead = [p for p, (b, _) in phones.items() if not b.running()]
        assert not dead, "phones ended: %s" % dead
    finally:
        col.close()


test_fleet_of_22_phones_on_both_baresips.baresip = "1.1.0"
test_fleet_of_22_phones_on_both_baresips.needs = \
    ("SFO_OTHER_MODULE", "the build for bookworm's baresip (run-all.sh)")
test_fleet_of_22_phones_on_both_baresips.timeout = 240
