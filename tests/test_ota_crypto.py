"""lib/ota's SHA-512 and Ed25519 verifier (on MicroPython) against CPython's hashlib
and the `cryptography` package: the RFC 8032 vectors as the MicroPython test holds
them are reproduced by `cryptography` from their secret keys; random keys and
messages signed by `cryptography` verify, and a flipped bit in the message, the
signature or the key is refused; SHA-512 equals hashlib's over every length 0..300
(block boundaries 111/112/127/128 among them) and a few long ones."""
import ast
import hashlib
import random

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import ROOT, run_micropython

DRIVER = ROOT / "tests" / "mpy" / "ota_crypto_driver.py"


def _raw_pub(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)


def _mpy_answers(tmp_path, lines):
    req = tmp_path / "requests.txt"
    req.write_text("\n".join(lines) + "\n")
    r = run_micropython([str(DRIVER), str(req)], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.split()
    assert len(out) == len(lines), r.stdout[-2000:]
    return out


def _h(b):
    return b.hex() or "-"


def _rfc_vectors():
    """VECTORS of tests/mpy/test_ota_crypto.py, read without running MicroPython code."""
    tree = ast.parse((ROOT / "tests" / "mpy" / "test_ota_crypto.py").read_text())
    env = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id in ("_T1024", "VECTORS"):
            code = compile(ast.Module([node], []), "vectors", "exec")
            exec(code, env)
    return env["VECTORS"]


def test_rfc8032_vectors_match_cryptography():
    vectors = _rfc_vectors()
    assert [v[0] for v in vectors] == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024",
                                       "TEST SHA(abc)"]
    assert len(bytes.fromhex(vectors[3][3])) == 1023
    for name, sk, pk, msg, sig in vectors:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sk))
        assert _raw_pub(key).hex() == pk, name
        assert key.sign(bytes.fromhex(msg)).hex() == sig, name   # Ed25519 is deterministic


def test_random_signatures_and_flipped_bits(tmp_path):
    rng = random.Random(13)
    lines, want = [], []
    for n in range(24):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        pk = _raw_pub(key)
        msg = rng.randbytes(rng.choice((0, 1, 31, 64, 111, 112, 127, 128, 200, 513)))
        sig = key.sign(msg)
        lines.append("verify %s %s %s" % (_h(pk), _h(msg), _h(sig)))
        want.append("1")
        for what in ("msg", "sig", "key"):
            m, s, k = bytearray(msg), bytearray(sig), bytearray(pk)
            target = {"msg": m, "sig": s, "key": k}[what]
            if not target:
                continue
            bit = rng.randrange(len(target) * 8)
            target[bit // 8] ^= 1 << (bit % 8)
            lines.append("verify %s %s %s" % (_h(bytes(k)), _h(bytes(m)), _h(bytes(s))))
            want.append("0")
    got = _mpy_answers(tmp_path, lines)
    bad = [(ln[:90], w, g) for ln, w, g in zip(lines, want, got) if w != g]
    assert not bad, bad
    assert want.count("1") == 24 and want.count("0") >= 70


def test_sha512_matches_hashlib(tmp_path):
    rng = random.Random(512)
    lengths = list(range(0, 301)) + [111, 112, 127, 128, 239, 240, 255, 256, 1000, 4096]
    datas = [rng.randbytes(n) for n in lengths]
    got = _mpy_answers(tmp_path, ["sha " + _h(d) for d in datas])
    bad = [len(d) for d, g in zip(datas, got) if hashlib.sha512(d).hexdigest() != g]
    assert not bad, "SHA-512 differs from hashlib at lengths %s" % bad
