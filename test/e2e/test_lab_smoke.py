"""The lab itself, without the module: stock baresip, kamailio, sipp, wire.

If this fails, the module tests below it say nothing.
"""

import time

import lab as L


def test_lab_smoke(lab):
    lab.capture()
    k2 = lab.kamailio("127.0.0.2")
    k3 = lab.kamailio("127.0.0.3", callee="127.0.0.98:5060")
    lab.uas()  # 127.0.0.99: answers
    lab.uas("127.0.0.98", scenario="uas_486")  # busy
    lab.responder_503("127.0.0.5")
    b = lab.baresip(accounts="\n".join([
        "<sip:100@127.0.0.2;transport=udp>;regint=60",
        "<sip:101@127.0.0.5;transport=udp>;regint=60",
        "<sip:102@127.0.0.3;transport=tcp>;regint=60"]))

    # registration: in kamailio and on the wire
    L.wait_for(lambda: k2.contacts("100"), 5, "100 registered at .2")
    L.wait_for(lambda: k3.contacts("102"), 5, "102 registered at .3 (tcp)")
    lab.wire_until(lambda m: L.registers_ok(m, "127.0.0.2", src=L.PHONE),
                   5, "REGISTER 200 from .2 on the wire")
    assert not k2.contacts("101"), "101 should not be at .2"
    # (baresip's TCP connections come from 127.0.0.1, not sip_listen's IP)
    lab.wire_until(lambda m: [x for x in m if x.transport == "tcp" and
                              x.method == "REGISTER" and
                              x.dst == "127.0.0.3"], 5,
                   "a TCP REGISTER to .3 on the wire")

    # the 503 responder
    r503 = lab.wire_until(lambda m: [x for x in m if x.status == 503 and
                                     x.src == "127.0.0.5"], 5,
                          "503 from the sipp responder")
    assert r503[0].cseq_method == "REGISTER"

    # a call through kamailio to the sipp UAS, driven over ctrl_tcp
    t0 = time.time()
    b.command("dial sip:200@127.0.0.2")
    est = b.ctrl.wait_event("CALL_ESTABLISHED", 10, since=t0)
    assert est["accountaor"] == "sip:100@127.0.0.2", est
    calls = b.command("listcalls")
    assert "ESTABLISHED" in calls, "listcalls: %r" % calls
    msgs = lab.wire_until(lambda m: L.requests(m, "ACK", dst=L.CALLEE) and m,
                          5, "the ACK at the UAS")
    inv = L.requests(msgs, "INVITE", src=L.PHONE, dst="127.0.0.2")
    fwd = L.requests(msgs, "INVITE", src="127.0.0.2", dst=L.CALLEE)
    assert inv and fwd, "INVITE path:\n" + L.summary(msgs)
    assert L.final_response(msgs, fwd[0]).status == 200
    b.command("hangup")
    b.ctrl.wait_event("CALL_CLOSED", 5, since=t0)
    lab.wire_until(lambda m: L.requests(m, "BYE", dst=L.CALLEE), 5,
                   "BYE at the UAS")

    # a busy callee: 486 comes back as the call's end
    t1 = time.time()
    b.command("dial sip:300@127.0.0.3;transport=tcp")
    closed = b.ctrl.wait_event("CALL_CLOSED", 10, since=t1)
    assert "486" in closed.get("param", ""), closed

    # kamailio kill -9, stop/cont and restart on the same address
    pids = k2.pids()
    assert len(pids) > 3, pids
    k2.kill()
    assert not any(L.alive(p) for p in pids), "kamailio pids left"
    assert not L.bound("127.0.0.2", 5060), "port still bound"
    k2.restart()
    assert k2.contacts() == [], "in-memory registrar kept contacts"
    k3.stop()
    assert all(L.proc_stat(p)[0] == "T" for p in k3.pids())
    k3.cont()
    assert k3.contacts("102"), "kamailio .3 lost its contact after CONT"

    # un-REGISTERs are counted when baresip stops
    b.terminate()
    lab.wire_until(lambda m: L.count_registers(m, src=L.PHONE).get(
        "127.0.0.2", {}).get("unregister"), 5, "un-REGISTER to .2")
