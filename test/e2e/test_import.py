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


def run_import(vendor, name, path=None, secret=C.PW):
    """(exit status, stdout, stderr) of srvfailover-ctl import of
    import/NAME (or of path); secret, the file's password, must not be
    on standard error."""
    path = path or os.path.join(HERE, "import", name)
    r = subprocess.run([sys.executable, CTL, "import", vendor, path],
                       capture_output=True, text=True, timeout=30)
    assert secret not in r.stderr, "a password on standard error"
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


def import_text(lab, vendor, text):
    """Import text written to a file of the lab: (status, out, err)."""
    path = lab.path("import.cfg")
    with open(path, "w") as f:
        f.write(text)
    return run_import(vendor, None, path, secret="s3cret")


def test_import_the_rest_of_the_tables_keys(lab):
    """What the lab files above do not use: Yealink TLS, DNS-NAPTR,
    fail-back newRequests, server 2's fail-back; Poly TCPOnly,
    TCPpreferred, TLS, newRequests, a registration timeout as fail-back
    delay; Cisco TLS, Use_Auth_ID No, a fall-back interval of 0, codes
    that are not codes; ports of both kinds and a password that needs
    quotes."""
    rc, out, err = import_text(lab, "yealink", "\n".join([
        "account.1.user_name = 100",
        "account.1.password = s3cret;x",
        "account.1.sip_server.1.address = pbx1.example.com",
        "account.1.sip_server.1.port = 5061",
        "account.1.sip_server.1.transport_type = 2",
        "account.1.sip_server.1.failback_mode = 0",
        "account.1.sip_server.2.address = pbx2.example.com",
        "account.1.sip_server.2.port = 5080",
        "account.1.sip_server.2.transport_type = 3",
        "account.1.sip_server.2.failback_mode = 3",
        "account.1.reg_failed_retry_min_time = 90",
        "account.1.reg_failed_retry_max_time = 60", ""]))
    assert rc == 0, err
    a, b = lines_of(out)
    assert a.startswith("<sip:100@pbx1.example.com;transport=tls>;"), a
    assert ';auth_pass="s3cret;x"' in a, a
    assert ";sfo_failback=immediate" in a, a
    assert ";sfo_retry_base=90;sfo_retry_max=90" in a, a
    assert b.startswith("<sip:100@pbx2.example.com:5080;transport=udp>"), b
    assert ":9: account.1.sip_server.2.transport_type: DNS-NAPTR" in err
    assert ":10: account.1.sip_server.2.failback_mode: fail-back is " \
        "line-wide here" in err, err
    assert ":12: account.1.reg_failed_retry_max_time: below the minimum" \
        in err, err

    rc, out, err = import_text(lab, "poly", """<polycomConfig>
<reg reg.1.address="sip:200@pbx" reg.1.auth.password="s3cret"
 reg.1.server.1.address="10.0.0.1" reg.1.server.1.transport="TCPOnly"
 reg.1.server.1.failOver.failBack.mode="newRequests"
 reg.1.server.2.address="10.0.0.2" reg.1.server.2.transport="TCPpreferred"
 reg.1.server.3.address="fd00::3" reg.1.server.3.transport="TLS"
 reg.1.server.3.port="5061"/>
</polycomConfig>
""")
    assert rc == 0, err
    a, b, c = lines_of(out)
    assert a.startswith("<sip:200@10.0.0.1;transport=tcp>;"), a
    assert ";sfo_failback=immediate" in a and "auth_user" not in a, a
    assert b.startswith("<sip:200@10.0.0.2;transport=tcp>"), b
    assert c.startswith("<sip:200@[fd00::3];transport=tls>"), c

    rc, out, err = import_text(lab, "cisco", """<flat-profile>
<User_ID_1_>300</User_ID_1_><Password_1_>s3cret</Password_1_>
<Auth_ID_1_>auth300</Auth_ID_1_><Use_Auth_ID_1_>No</Use_Auth_ID_1_>
<Proxy_1_>[fd00::1]:5071</Proxy_1_><SIP_Transport_1_>TLS</SIP_Transport_1_>
<Proxy_Fallback_Intvl_1_>0</Proxy_Fallback_Intvl_1_>
<Try_Backup_RSC_1_>busy</Try_Backup_RSC_1_>
</flat-profile>
""")
    assert rc == 0, err
    a, = lines_of(out)
    assert a.startswith("<sip:300@[fd00::1]:5071;transport=tls>;"), a
    assert "auth_user" not in a and ";sfo_failback=immediate" in a, a
    assert "sfo_mode=cisco" in a and "sfo_failover_codes" not in a, a
    assert "Try_Backup_RSC_1_: 'busy' is not a list of codes" in err, err
