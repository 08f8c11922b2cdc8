# MicroPython bench driver for `ata bench --only sip`: parses (or handles) one typical
# SIP message REPS x LOOPS times. callgrind counts two REPS values and tools/ata/sip_bench.py
# divides the difference by LOOPS, so start-up, imports and building the messages cancel.
#   micropython bench/sip_mpy.py MODE REPS
# MODE: none (the loop alone), parse-reg200, parse-401, parse-invite,
#       handle-reg200, handle-401 (parse and handling, see _handler).
# The firmware's modules are imported first: the cost of interning a name grows with
# the names already interned (~1,600 in the running firmware), so an empty interpreter
# would flatter any parser that interns per character.
import sys

LOOPS = 20

# The firmware's import set (what firmware/main.py loads on the sim board); only imported.
for _m in ("config", "country", "hook", "line", "media", "callctl", "console", "clip",
           "supervisor", "safemode", "main", "board", "sip", "sip.ua", "sip.call",
           "sip.indialog", "sip.sdp", "rtp", "rtp.plc", "dsp.dtmf", "dsp.tone",
           "dsp.callerid", "dsp.g711"):
    __import__(_m)

from sip import message as M  # noqa: E402

LOCAL = "192.168.1.50"
SERVER = "192.168.1.10"

REG200 = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP %(L)s:5060;rport=5060;received=%(L)s;branch=z9hG4bK3f2a9c1d7e60b4a2\r\n"
    "From: <sip:1001@%(S)s>;tag=8a41c0d2e9\r\n"
    "To: <sip:1001@%(S)s>;tag=a6c85cf8a3d2e1b1c1f2a3d4e5f60718\r\n"
    "Call-ID: 5b1e0c9a2f7d4e31@%(L)s\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Contact: <sip:1001@%(L)s:5060>;expires=300\r\n"
    "Server: kamailio (5.8.4 (x86_64/linux))\r\n"
    "Content-Length: 0\r\n\r\n") % {"L": LOCAL, "S": SERVER}

R401 = (
    "SIP/2.0 401 Unauthorized\r\n"
    "Via: SIP/2.0/UDP %(L)s:5060;rport=5060;received=%(L)s;branch=z9hG4bK91c07a5e2d3b4f68\r\n"
    "From: <sip:1001@%(S)s>;tag=8a41c0d2e9\r\n"
    "To: <sip:1001@%(S)s>;tag=a6c85cf8a3d2e1b1c1f2a3d4e5f60718.9d1b\r\n"
    "Call-ID: 5b1e0c9a2f7d4e31@%(L)s\r\n"
    "CSeq: 1 REGISTER\r\n"
    "WWW-Authenticate: Digest realm=\"%(S)s\", nonce=\"Z0n1Yl9hZGRyZXNzX2NoZWNrZWQ6MTczMjg5\", "
    "qop=\"auth\", algorithm=MD5, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n"
    "Server: kamailio (5.8.4 (x86_64/linux))\r\n"
    "Content-Length: 0\r\n\r\n") % {"L": LOCAL, "S": SERVER}

SDP = ("v=0\r\n"
       "o=- 3918302781 3918302781 IN IP4 192.168.1.20\r\n"
       "s=-\r\n"
       "c=IN IP4 192.168.1.20\r\n"
       "t=0 0\r\n"
       "m=audio 10000 RTP/AVP 0 8 101\r\n"
       "a=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:8 PCMA/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\n"
       "a=fmtp:101 0-16\r\n"
       "a=ptime:20\r\n"
       "a=sendrecv\r\n")

INVITE = (
    "INVITE sip:1001@%(L)s:5060 SIP/2.0\r\n"
    "Record-Route: <sip:%(S)s;lr>\r\n"
    "Via: SIP/2.0/UDP %(S)s;branch=z9hG4bK7d9c.4f1a2b3c4d5e6f70.0\r\n"
    "Via: SIP/2.0/UDP 192.168.1.20:5062;received=192.168.1.20;rport=5062;"
    "branch=z9hG4bK4a1c2e3f5b6d7e8f\r\n"
    "Max-Forwards: 69\r\n"
    "Contact: <sip:1002@192.168.1.20:5062>\r\n"
    "To: <sip:1001@%(S)s>\r\n"
    "From: \"Bob\" <sip:1002@%(S)s>;tag=0d6e4a2c91f3\r\n"
    "Call-ID: 7c3a94f1b2e8d605a1c4\r\n"
    "CSeq: 4711 INVITE\r\n"
    "Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE,REFER\r\n"
    "Supported: replaces,norefersub\r\n"
    "User-Agent: baresip v3.16.0 (x86_64/linux)\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: %(N)d\r\n\r\n%(B)s") % {"L": LOCAL, "S": SERVER, "N": len(SDP), "B": SDP}

MESSAGES = {"reg200": REG200.encode(), "401": R401.encode(), "invite": INVITE.encode()}


def _handler(key):
    """One response's handling as the firmware does it, after parse: the UserAgent's
    datagram entry (source check, parse, match to the REGISTER's client transaction),
    then what the registration does with it (200: the granted expiry from Contact;
    401: the challenge parsed and the Authorization value computed). The UA has no
    socket; the client transaction is put back to 'sent' before each datagram."""
    from sip import digest
    from sip.transaction import ClientTx
    from sip.ua import UserAgent
    ua = UserAgent({"server": SERVER, "user": "1001", "password": "pw", "local_ip": LOCAL,
                    "sip_port": 5060})
    ua._send = lambda data, addr: None
    ua.tx.send = ua._send
    addr = (SERVER, 5060)
    ua._trusted = {addr}              # what refresh_trusted() finds for a numeric server
    first = M.parse(MESSAGES[key])
    req = ua.reg._request(300)
    req.branch = first.branch         # the response answers this request
    got = []
    tx = ClientTx(ua.tx, req, addr, addr, lambda t, m: got.append(m), None, None)
    ua.tx.client[tx.key] = tx

    def handle(data):
        tx.state = 0                  # _CALLING: each datagram is the first final response
        ua.handle(data, addr)
        m = got.pop()
        if m.status == 200:
            ua.reg._ok(m, 300)
        else:
            ch = digest.parse_challenge(m.get("www-authenticate"))
            ua.auth.authorization(ch, "REGISTER", req.uri)
    return handle


def main():
    mode = sys.argv[1]
    reps = int(sys.argv[2])
    if mode == "none":
        fn = lambda data: None  # noqa: E731
        data = b""
    elif mode.startswith("parse-"):
        fn = M.parse
        data = MESSAGES[mode[6:]]
        M.parse(data)                  # warm: first-call effects outside the loop
    elif mode in ("handle-reg200", "handle-401"):
        data = MESSAGES[mode[7:]]
        fn = _handler(mode[7:])
        fn(data)
    else:
        raise ValueError(mode)
    n = reps * LOOPS
    for _ in range(n):
        fn(data)


if __name__ == "__main__":
    main()
