"""srvfailover-ctl import: vendors' provisioning files -> the srvfailover
file (issue 18), each imported file loaded into the lab and registered.

The files in import/ are written by hand from the keys the vendors
document (Yealink's are in the seeds); their servers are the lab's.
"""

import os
import subprocess
import sys

import common as C
import lab as L

HERE = os.path.dirname(os.path.abspath(__file__))
CTL = os.path.join(HERE, "..", "..", "contrib", "srvfailover-ctl")


def run_import(vendor, name):
    """(exit status, stdout, stderr) of srvfailover-ctl import."""
    path = os.path.join(HERE, "import", name)
    r = subprocess.run([sys.executable, CTL, "import", vendor, path],
                       capture_output=True, text=True, timeout=30)
    assert C.PW not in r.stderr, "a password on standard error"
    return r.returncode, r.stdout, r.stderr


def lines_of(out):
    return [x for x in out.splitlines() if x and not x.startswith("#")]


def loads_and_registers(lab, text, mode, users=(C.USER,)):
    """The imported file, as it is, is the module's: no error at load,
    every line works on its first server."""
    b, _ = C.start(lab, srvfailover=text, auth=C.PW)
    for user in users:
        C.wait_status(b, "line %s works on server 1 (%s)" % (user, mode),
                      lambda l: l.get("working") == 1 and
                      l.get("mode") == mode, C.SETTLE, user=user)
    errors = [x for x in b.lines("srvfailover: ") if ":" in x and
              "/srvfailover:" in x]
    assert not errors, errors
    return b


def test_import_yealink_successive(lab):
    rc, out, err = run_import("yealink", "yealink-successive.cfg")
    assert rc == 0, err
    first, second = lines_of(out)
    assert first.startswith('"Alice" <sip:100@127.0.0.2;transport=udp>;')
    for p in ("regint=600", "sfo_retries=2", "mwi=no", "auth_user=100",
              "sfo_mode=sequential", "sfo_fallback_interval=30",
              "sfo_failback=delay:60", "sfo_retry_base=5",
              "sfo_retry_max=120"):
        assert ";" + p in first, (p, first)
    assert second.startswith('"Alice" <sip:100@127.0.0.3;transport=udp>')
    assert "sfo_mode" not in second, second
    assert "yealink-successive.cfg:4: account.1.label: not carried" in err
    assert ":25: account.1.codec.1.enable" in err, err
    assert ":26: account.2.enable: the account is disabled" in err, err
    assert "static.network" not in err, err
    loads_and_registers(lab, out, "sequential")


def test_import_yealink_clamps_tcp_and_legacy_keys(lab):
    rc, out, err = run_import("yealink", "yealink-concurrent.cfg")
    assert rc == 0, err
    a1, a2, b1 = lines_of(out)
    assert a1.startswith("<sip:100@127.0.0.2;transport=tcp>;"), a1
    assert ";regint=604800;sfo_retries=10;" in a1, a1
    assert ";sfo_mode=parallel" in a1, a1
    assert a2.startswith("<sip:100@127.0.0.3;transport=tcp>"), a2
    assert b1.startswith("<sip:101@127.0.0.4;transport=udp>;"), b1
    assert ":11: account.1.sip_server.1.expires: 2147483647 is out of" \
        in err, err
    assert ":12: account.1.sip_server.1.retry_counts: 99" in err, err
    assert ":13: account.1.sip_server.1.failback_mode: DNS TTL has no" \
        in err, err
    loads_and_registers(lab, out, "parallel", ("100", "101"))


def test_import_without_an_account_exits_2(lab):
    rc, out, err = run_import("yealink", "yealink-none.cfg")
    assert rc == 2 and not lines_of(out), (rc, out)
    assert "no account" in err, err
    rc, _, err = run_import("yamaha", "yealink-none.cfg")
    assert rc == 2 and "unknown vendor 'yamaha'" in err, err
    rc, _, err = run_import("poly", "no-such-file.cfg")
    assert rc == 2 and "no-such-file.cfg" in err, err
    rc, _, err = run_import("cisco", "yealink-successive.cfg")
    assert rc == 2 and "not XML" in err, err


def test_import_poly_servers_of_a_registration(lab):
    rc, out, err = run_import("poly", "poly-servers.cfg")
    assert rc == 0, err
    first, second = lines_of(out)
    assert first.startswith('"Alice & Bob" <sip:100@127.0.0.2;'
                            'transport=udp>;'), first
    for p in ("regint=600", "sfo_retries=2", "auth_user=100",
              "sfo_mode=parallel", "sfo_failback=delay:3600"):
        assert ";" + p in first, (p, first)
    assert second.startswith('"Alice & Bob" <sip:100@127.0.0.3;'), second
    assert "poly-servers.cfg:5: reg.1.label: not carried" in err, err
    loads_and_registers(lab, out, "parallel")


def test_import_poly_default_servers(lab):
    rc, out, err = run_import("poly", "poly-defaults.cfg")
    assert rc == 0, err
    first, second = lines_of(out)
    assert first.startswith("<sip:100@127.0.0.2;transport=udp>;"
                            "regint=300;"), first
    assert second.startswith("<sip:100@127.0.0.3;transport=udp>;"
                             "regint=300;"), second
    assert "voIpProt.server.1.transport: 'DNSnaptr' has no equivalent" \
        in err, err
    assert "reg.1.server.1.register: a server that takes calls" in err
    loads_and_registers(lab, out, "parallel")


def test_import_cisco_alternate_proxy(lab):
    rc, out, err = run_import("cisco", "cisco-alternate.xml")
    assert rc == 0, err
    first, second = lines_of(out)
    assert first.startswith('"Alice" <sip:100@127.0.0.2;transport=udp>;')
    for p in ("regint=600", "auth_user=100", "sfo_mode=cisco",
              "sfo_failback=delay:60", "sfo_failover_codes=503,5??"):
        assert ";" + p in first, (p, first)
    assert second.startswith('"Alice" <sip:100@127.0.0.3;transport=udp>')
    assert ":16: Preferred_Codec_1_: not carried over" in err, err
    assert ":17: Line_Enable_2_: the line is disabled" in err, err
    b = loads_and_registers(lab, out, "cisco")
    C.wait_status(b, "server 2 checked, not registered",
                  C.states_are({1: "Registered", 2: "Reachable"}), 10)


def test_import_cisco_dual_registration(lab):
    rc, out, err = run_import("cisco", "cisco-dual.xml")
    assert rc == 0, err
    first, second = lines_of(out)
    assert ";regint=10;" in first and ";sfo_mode=parallel" in first, first
    assert "auth_user" not in first, first
    assert "SIP_Transport_1_: 'AUTO' has no equivalent" in err, err
    assert "Register_Expires_1_: 5 is out of regint's range" in err, err
    b = loads_and_registers(lab, out, "parallel")
    C.wait_status(b, "both registered",
                  C.states_are({1: "Registered*", 2: "Registered"}), 10)
    L.wait_for(lambda: lab.kams["127.0.0.3"].contacts(C.USER), 5,
               "a contact at server 2")
