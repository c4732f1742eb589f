#!/usr/bin/env python3
"""A SIP server that answers every request with something broken.

    garbage_server.py IP PORT [--kinds k1,k2,...] [--log FILE]

Listens on IP:PORT over UDP and TCP (inside a test's namespace only) and
answers each request (REGISTER, OPTIONS, INVITE, anything) with the next
kind of garbage, in turn:

  random     random bytes (1..1400; over TCP then the connection closes)
  truncated  a real-looking 200 OK to the request, cut in the middle
             (over TCP: the cut message, then the connection closes)
  huge       a 500 to the request with a 64 KiB header (over UDP as
             much as a datagram holds: 65000 bytes)
  badstatus  a response with a bad status line (SIP/2.0 2OO OK, SIP/3.0,
             HTTP/1.1, a six-digit code, no reason, ...)
  retryafter a 503 with a garbage Retry-After (-1, 99999999999999999999,
             abc, empty, 0x10, 3600 (comment, ...)
  badreason  a 500 or 503 whose reason phrase has quotes, a backslash,
             control bytes and bad UTF-8, or 40 two-byte characters
  stray1xx   a 183 to the request with the right Call-ID but another
             Via branch (not its transaction: libre drops it), then nothing
  badlength  a 500 whose Content-Length lies (4294967295, -5, x); over
             TCP the connection then closes

--good METHODS (e.g. REGISTER,OPTIONS): those get a proper 200 OK
instead, so that the server can be the working one.

ACKs and CANCELs get nothing (a real server does not answer an ACK).
Every answer is logged as one line "t kind proto peer method". Runs until
killed. Python 3 standard library only.
"""

import argparse
import os
import random
import re
import select
import socket
import sys
import time

KINDS = ["random", "truncated", "huge", "badstatus", "retryafter",
         "badlength", "stray1xx", "badreason"]

# (libre 1.1.0 takes "SIP/3.0 200 OK" and even "HTTP/1.1 200 OK" for a
# 200: such lines would register, so the versions here carry errors)
BAD_STATUS = [
    b"SIP/2.0 2OO OK",
    b"SIP/3.0 500 Bad Version",
    b"HTTP/1.1 400 Bad Request",
    b"SIP/2.0 999999 Way Too Big",
    b"SIP/2.0 200",
    b"SIP/2.0  OK",
    b"SIP/2.0 -1 Negative",
    b"sip/2.0 503\x00Service Unavailable",
    b"SIP/2.0 " + b"9" * 300 + b" Long",
    b"\xff\xfe\xfdSIP/2.0 200 OK",
]

# reasons that a JSON or UTF-8 writer must take care of
BAD_REASON = [
    b"SIP/2.0 500 Bad \"quote\" \\back\x01\x1f\x7f \xc3( \xe2\x82 end",
    b"SIP/2.0 503 " + "\u00e9".encode() * 40,
]

BAD_RETRY_AFTER = [b"-1", b"99999999999999999999", b"abc", b"",
                   b"0x10", b"3600 (comment", b"4294967296",
                   b"18446744073709551617;duration=-3", b";;;",
                   b"\xff\xff", b"1" * 5000]

BAD_LENGTH = [b"4294967295", b"-5", b"x", b"99999999999999999999999"]


def headers_of(req):
    """The request's first line and its Via/From/To/Call-ID/CSeq lines."""
    head = req.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    keep = []
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v", b"from", b"f", b"to", b"t", b"call-id",
                    b"i", b"cseq"):
            keep.append(line)
    return lines[0], keep


def response(status, req, extra=(), body=b"", length=None):
    _first, keep = headers_of(req)
    out = [status] + keep + list(extra)
    out.append(b"Content-Length: " + (length if length is not None else
                                      str(len(body)).encode()))
    return b"\r\n".join(out) + b"\r\n\r\n" + body


def garbage(kind, req, proto, rnd):
    """(bytes to send, close the TCP connection after)"""
    if kind == "random":
        return os.urandom(rnd.randint(1, 1400)), True
    if kind == "truncated":
        full = response(b"SIP/2.0 200 OK", req,
                        [b"Contact: <sip:100@127.0.0.10:5060>;expires=60",
                         b"Expires: 60"])
        return full[:rnd.randint(5, len(full) - 5)], True
    if kind == "huge":
        size = 65536 if proto == "tcp" else 65000 - 2 * len(req)
        big = [b"X-Huge: " + b"A" * max(size, 1000)]
        return response(b"SIP/2.0 500 Server Internal Error", req, big), \
            False
    if kind == "badstatus":
        return response(rnd.choice(BAD_STATUS), req), False
    if kind == "retryafter":
        return response(b"SIP/2.0 503 Service Unavailable", req,
                        [b"Retry-After: " + rnd.choice(BAD_RETRY_AFTER)]), \
            False
    if kind == "badreason":
        return response(BAD_REASON[rnd.randint(0, 1)], req), False
    if kind == "stray1xx":
        _first, keep = headers_of(req)
        keep = [re.sub(rb"(?i)branch=[^;,\s]+", b"branch=z9hG4bKstray", l)
                if l.lower().startswith((b"via", b"v:")) else l
                for l in keep]
        out = [b"SIP/2.0 183 Session Progress"] + keep + \
            [b"Content-Length: 0"]
        return b"\r\n".join(out) + b"\r\n\r\n", False
    if kind == "badlength":
        return response(b"SIP/2.0 500 Server Internal Error", req, [],
                        length=rnd.choice(BAD_LENGTH)), True
    raise ValueError(kind)


def good(req):
    """A proper 200 OK (REGISTER: the Contact back, 60 s)."""
    head = req.split(b"\r\n\r\n", 1)[0]
    extra = [b"Expires: 60"]
    for line in head.split(b"\r\n")[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"contact", b"m"):
            extra.append(line.split(b";expires")[0])
    first, keep = headers_of(req)
    keep = [l + b";tag=g00d" if l.lower().startswith((b"to:", b"t:")) and
            b"tag=" not in l else l for l in keep]
    out = [b"SIP/2.0 200 OK"] + keep + extra + [b"Content-Length: 0"]
    return b"\r\n".join(out) + b"\r\n\r\n"


def split_requests(buf):
    """Complete requests at the start of a TCP stream, and the rest."""
    out = []
    while True:
        buf = buf.lstrip(b"\r\n")
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", buf[:end])
        n = int(m.group(1)) if m else 0
        if len(buf) < end + 4 + n:
            return out, buf
        out.append(buf[:end + 4 + n])
        buf = buf[end + 4 + n:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ip")
    ap.add_argument("port", type=int)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--log", default=None)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--good", default="")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    for k in kinds:
        if k not in KINDS:
            sys.exit("unknown kind %s" % k)
    rnd = random.Random(args.seed)
    log = open(args.log, "a", buffering=1) if args.log else sys.stdout
    turn = [0]

    def answer(req, proto, peer):
        first = req.split(b"\r\n", 1)[0]
        method = first.split(b" ", 1)[0].decode("ascii", "replace")
        if method in ("ACK", "CANCEL") or first.startswith(b"SIP/2.0"):
            return None
        if not first.strip():
            return None
        if method in args.good.split(","):
            log.write("%.3f good %s %s:%d %s 0\n" % (
                time.time(), proto, peer[0], peer[1], method))
            return good(req), False
        kind = kinds[turn[0] % len(kinds)]
        turn[0] += 1
        data, close = garbage(kind, req, proto, rnd)
        log.write("%.3f %s %s %s:%d %s %d\n" % (
            time.time(), kind, proto, peer[0], peer[1], method, len(data)))
        return data, close

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    udp.bind((args.ip, args.port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((args.ip, args.port))
    tcp.listen(16)
    conns = {}  # socket -> [peer, buffer]

    while True:
        r, _, _ = select.select([udp, tcp] + list(conns), [], [], 1.0)
        for s in r:
            if s is udp:
                try:
                    data, peer = udp.recvfrom(65535)
                except OSError:
                    continue
                if not data.strip(b"\r\n\x00"):
                    continue  # a keep-alive
                out = answer(data, "udp", peer)
                if out:
                    try:
                        udp.sendto(out[0], peer)
                    except OSError as e:
                        log.write("udp send: %s\n" % e)
            elif s is tcp:
                try:
                    c, peer = tcp.accept()
                except OSError:
                    continue
                conns[c] = [peer, b""]
            else:
                peer, buf = conns[s]
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    s.close()
                    del conns[s]
                    continue
                reqs, buf = split_requests(buf + data)
                conns[s][1] = buf
                for req in reqs:
                    out = answer(req, "tcp", peer)
                    if not out:
                        continue
                    try:
                        s.sendall(out[0])
                    except OSError:
                        out = (None, True)
                    if out[1]:
                        s.close()
                        del conns[s]
                        break


if __name__ == "__main__":
    main()
