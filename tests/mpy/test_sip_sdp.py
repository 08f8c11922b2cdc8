# SDP offer/answer: PCMU/PCMA/telephone-event, directions, no-match, hold rewrite.
from check import eq

from sip import sdp

BARESIP = ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio 20000 RTP/AVP 9 8 0 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 "
           "telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n")


def test_offer_parses_back():
    t = sdp.offer("192.0.2.5", 4000, "77")
    s = sdp.parse(t)
    eq((s.ip, s.port, s.payloads), ("192.0.2.5", 4000, [0, 8, 101]), "offer")
    eq(s.rtpmap[0], ("PCMU", 8000), "rtpmap")
    eq((s.dtmf_pt, s.direction, s.ptime), (101, "sendrecv", 20), "attrs")
    s1 = sdp.parse(sdp.offer("192.0.2.5", 4000, "1", codecs=("PCMA",), dtmf_pt=None))
    eq((s1.ip, s1.payloads), ("192.0.2.5", [8]), "one codec")


def test_answer_picks_first_common():
    ans = sdp.answer(sdp.parse(BARESIP), "127.0.0.1", 5000)
    text, pt, dtmf = ans
    eq((pt, dtmf), (8, 101), "PCMA first among ours in the offer's order")
    s = sdp.parse(text)
    eq((s.payloads, s.port, s.direction), ([8, 101], 5000, "sendrecv"), "answer")


def test_no_codec_and_directions():
    eq(sdp.answer(sdp.parse(BARESIP.replace("9 8 0 101", "9 101")), "1.2.3.4", 1), None, "488")
    held = sdp.parse(BARESIP.replace("a=sendrecv", "a=sendonly"))
    eq(held.direction, "sendonly", "parse dir")
    eq(sdp.parse(sdp.answer(held, "1.2.3.4", 1)[0]).direction, "recvonly", "hold answer")
    ina = sdp.parse(BARESIP.replace("a=sendrecv", "a=inactive"))
    eq(sdp.parse(sdp.answer(ina, "1.2.3.4", 1)[0]).direction, "inactive", "inactive")
    sess = BARESIP.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n").replace("a=sendrecv\r\n", "")
    eq(sdp.parse(sess).direction, "recvonly", "session-level direction")


def test_rewrite():
    t = sdp.offer("10.0.0.1", 4000, "5")
    h = sdp.with_direction(t, "sendonly")
    eq(sdp.parse(h).direction, "sendonly", "hold")
    eq(h.count("a=send"), 1, "one direction line")
    eq(sdp.parse(sdp.set_version(h, 9)).version, 9, "version")


_GOOD = ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
         "m=audio 7000 RTP/AVP 0\r\n")


def test_connection_address_and_port_checked():
    # no DNS on the event loop: c= is a numeric IPv4 address, nothing else
    for c in ("c=IN IP4 pbx.invalid", "c=IN IP4 1.2.3", "c=IN IP4 256.1.1.1", "c=IN IP6 ::1",
              "c=IN IP4 1.2.3.4.5", "c=IN IP4 -1.2.3.4", "c=IN IP4", "c=XX IP4 1.2.3.4",
              "c=IN IP4 %s" % ("9" * 400)):
        try:
            sdp.parse(_GOOD.replace("c=IN IP4 192.0.2.1", c))
        except ValueError:
            continue
        raise AssertionError("accepted %r" % c)
    for m in ("m=audio 65536 RTP/AVP 0", "m=audio -1 RTP/AVP 0", "m=audio 99999999999 RTP/AVP 0",
              "m=audio 7000 RTP/AVP 128", "m=audio 7000 RTP/AVP 0 " + "0 " * 40,
              "m=audio 7000 RTP/AVP 99999999999999999999"):
        try:
            sdp.parse(_GOOD.replace("m=audio 7000 RTP/AVP 0", m))
        except ValueError:
            continue
        raise AssertionError("accepted %r" % m)
    s = sdp.parse(_GOOD.replace("c=IN IP4 192.0.2.1", "c=IN IP4 10.1.2.3/127"))
    eq((s.ip, s.port), ("10.1.2.3", 7000), "TTL suffix")


def test_bad():
    for bad in ("", "v=0\r\nm=video 1 RTP/AVP 96\r\nc=IN IP4 1.2.3.4\r\n",
                "v=0\r\nm=audio x RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n", "garbage line\r\n"):
        try:
            sdp.parse(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)
