# HTTP digest authentication for SIP (RFC 2617 / RFC 3261 22): MD5, qop=auth, nc/cnonce.
import binascii
import hashlib
import os

from sip import headers as H

# Longest realm, nonce or opaque answered. They are kept (the nonce for its count, all
# three in the Authorization header of the request kept for refreshes), so a challenge
# may not make the UA hold kilobytes: registrars' values are 10-100 characters.
MAX_VALUE = 256


def md5_hex(text):
    return binascii.hexlify(hashlib.md5(text.encode()).digest()).decode()


def parse_challenge(value):
    """'Digest realm="x", nonce="y", qop="auth,auth-int", stale=TRUE' -> dict.

    Keys are lower-case; 'qop' is a list; 'stale' a bool. Raises ValueError.
    """
    v = value.strip()
    scheme, _, rest = v.partition(" ")
    if scheme.lower() != "digest":
        raise ValueError("not a Digest challenge")
    out = {}
    for part in H.split_commas(rest):
        k, eq, val = part.partition("=")
        k = k.strip().lower()
        if not eq or not k:
            continue
        out[k] = H.unquote(val.strip())
    if "nonce" not in out or "realm" not in out:
        raise ValueError("challenge without realm/nonce")
    for k in ("realm", "nonce", "opaque"):
        if len(out.get(k, "")) > MAX_VALUE:
            raise ValueError("challenge %s of %d characters (at most %d answered)"
                             % (k, len(out[k]), MAX_VALUE))
    out["qop"] = [q.strip().lower() for q in out.get("qop", "").split(",") if q.strip()]
    out["stale"] = out.get("stale", "").lower() == "true"
    alg = out.get("algorithm", "MD5")
    if alg.upper() != "MD5":
        raise ValueError("unsupported algorithm " + alg)
    return out


def response(username, password, realm, method, uri, nonce, qop=None, nc=None, cnonce=None):
    """The 32-hex 'response' value (RFC 2617 3.2.2.1)."""
    ha1 = md5_hex("%s:%s:%s" % (username, realm, password))
    ha2 = md5_hex("%s:%s" % (method, uri))
    if qop:
        return md5_hex("%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
    return md5_hex("%s:%s:%s" % (ha1, nonce, ha2))


class DigestAuth:
    """Answers challenges for one account; keeps the nonce count per nonce."""

    def __init__(self, auth_id, password):
        self.auth_id = auth_id
        self.password = password
        self.nonce = None
        self.nc = 0

    def authorization(self, challenge, method, uri, cnonce=None):
        """Header value answering `challenge` (dict from parse_challenge)."""
        nonce = challenge["nonce"]
        if nonce != self.nonce:
            self.nonce = nonce
            self.nc = 0
        self.nc += 1
        qop = "auth" if "auth" in challenge["qop"] else None
        if challenge["qop"] and qop is None:
            raise ValueError("only qop=auth-int offered")
        nc = "%08x" % self.nc
        if cnonce is None:
            cnonce = binascii.hexlify(os.urandom(8)).decode()
        resp = response(self.auth_id, self.password, challenge["realm"], method, uri,
                        nonce, qop, nc, cnonce)
        parts = ['Digest username="%s"' % self.auth_id, 'realm="%s"' % challenge["realm"],
                 'nonce="%s"' % nonce, 'uri="%s"' % uri, 'response="%s"' % resp,
                 "algorithm=MD5"]
        if "opaque" in challenge:
            parts.append('opaque="%s"' % challenge["opaque"])
        if qop:
            parts.append("qop=auth")
            parts.append("nc=" + nc)
            parts.append('cnonce="%s"' % cnonce)
        return ", ".join(parts)
