# Digest authentication: RFC 2617 3.5 vector, SIP challenge parsing, nonce count.
from check import eq, raises

from sip import digest


def test_rfc2617_vector():
    r = digest.response("Mufasa", "Circle Of Life", "testrealm@host.com", "GET",
                        "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "auth",
                        "00000001", "0a4f113b")
    eq(r, "6629fae49393a05397450978507c4ef1", "RFC 2617 response")


def test_rfc2069_style():
    # without qop: MD5(HA1:nonce:HA2); reference computed with CPython hashlib
    r = digest.response("1001", "secret1", "127.0.0.1", "REGISTER", "sip:127.0.0.1",
                        "abc123")
    eq(r, "8f3c8a2b53ae65361dd327847a4b1b86", "no-qop response")


def test_challenge_and_header():
    ch = digest.parse_challenge('Digest realm="127.0.0.1", nonce="Xy,z", qop="auth,auth-int", '
                                'opaque="o1", stale=TRUE, algorithm=MD5')
    eq(ch["realm"], "127.0.0.1", "realm")
    eq(ch["nonce"], "Xy,z", "nonce with comma")
    eq(ch["qop"], ["auth", "auth-int"], "qop list")
    eq(ch["stale"], True, "stale")
    a = digest.DigestAuth("authid", "pw")
    h1 = a.authorization(ch, "INVITE", "sip:1002@127.0.0.1", cnonce="c0ffee")
    h2 = a.authorization(ch, "INVITE", "sip:1002@127.0.0.1", cnonce="c0ffee")
    eq('username="authid"' in h1, True, "auth id used")
    eq("nc=00000001" in h1 and "nc=00000002" in h2, True, "nonce count increments")
    eq('opaque="o1"' in h1 and "qop=auth" in h1, True, "opaque and qop")
    want = digest.response("authid", "pw", "127.0.0.1", "INVITE", "sip:1002@127.0.0.1", "Xy,z",
                           "auth", "00000001", "c0ffee")
    eq('response="%s"' % want in h1, True, "response value")
    raises(ValueError, digest.parse_challenge, 'Basic realm="x"')
    raises(ValueError, digest.parse_challenge, 'Digest realm="x", nonce="y", algorithm=SHA-256')
    raises(ValueError, digest.parse_challenge, 'Digest realm="x"')


def test_oversize_challenge_values_are_refused():
    # The UA keeps a challenge's realm, nonce and opaque: at most 256 characters each.
    form = 'Digest realm="%(realm)s", nonce="%(nonce)s", opaque="%(opaque)s"'
    for key in ("realm", "nonce", "opaque"):
        fields = {"realm": "pbx", "nonce": "abc", "opaque": "o"}
        fields[key] = "n" * 256
        eq(len(digest.parse_challenge(form % fields)[key]), 256,
           "a 256-character %s is answered" % key)
        fields[key] = "n" * 257
        e = raises(ValueError, digest.parse_challenge, form % fields)
        eq(str(e), "challenge %s of 257 characters (at most 256 answered)" % key, "why")
