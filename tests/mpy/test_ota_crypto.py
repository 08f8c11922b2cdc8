# lib/ota's SHA-512 and Ed25519 on MicroPython: every RFC 8032 section 7.1 Ed25519
# test vector (TEST 1, 2, 3, 1024, SHA(abc)), FIPS 180-4 SHA-512 examples, and the
# refusals the verifier must make (altered message/signature/key, S >= L,
# non-canonical encodings). The host test tests/test_ota_crypto.py cross-checks
# against Python's `cryptography` and hashlib.
from ota import ed25519
from ota.sha512 import sha512

_T1024 = (
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
    "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
    "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
    "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
    "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
    "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
    "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
    "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
    "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
    "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
    "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
    "c60c905c15fc910840b94c00a0b9d0")

# RFC 8032 section 7.1: (name, SECRET KEY, PUBLIC KEY, MESSAGE, SIGNATURE), hex. The
# secret keys are not used here (the device only verifies); the host test signs with
# them through `cryptography` and checks it reproduces these public keys and signatures.
VECTORS = (
    ("TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555f"
     "b8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da08"
     "5ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18"
     "ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ("TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e", _T1024,
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa"
     "5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"),
    ("TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909"
     "351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
)

_L = 0x1000000000000000000000000000000014DEF9DEA2F79CD65812631A5CF5D3ED
_P = 2 ** 255 - 19


def _flip(b, bit):
    b = bytearray(b)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def _vec(i):
    _, _, pk, msg, sig = VECTORS[i]
    return bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sig)


def test_sha512_fips_examples():
    assert sha512(b"abc").hexdigest() == (
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
    assert sha512(b"").hexdigest() == (
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
    two_blocks = (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                  b"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
    assert sha512(two_blocks).hexdigest() == (
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
        "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909")


def test_sha512_streaming_equals_one_shot():
    data = bytes((i * 7 + 3) & 0xFF for i in range(700))
    whole = sha512(data).digest()
    for step in (1, 5, 63, 127, 128, 129, 333):
        h = sha512()
        for i in range(0, len(data), step):
            h.update(data[i:i + step])
        assert h.digest() == whole, step
    h = sha512(data[:100])
    h.digest()                       # digest() leaves the object usable
    h.update(data[100:])
    assert h.digest() == whole


def test_rfc8032_vectors_verify():
    for i, (name, _, _, _, _) in enumerate(VECTORS):
        pk, msg, sig = _vec(i)
        assert ed25519.verify(pk, msg, sig), name


def test_rfc8032_vectors_altered_are_refused():
    for i, (name, _, _, _, _) in enumerate(VECTORS):
        pk, msg, sig = _vec(i)
        if msg:
            assert not ed25519.verify(pk, _flip(msg, 3), sig), name + " message"
        assert not ed25519.verify(pk, msg + b"\x00", sig), name + " longer message"
        for bit in (0, 100, 255, 256, 400, 500):
            assert not ed25519.verify(pk, msg, _flip(sig, bit)), name + " sig bit %d" % bit
        for bit in (0, 77, 254):
            assert not ed25519.verify(_flip(pk, bit), msg, sig), name + " key bit %d" % bit
        # another vector's key: a valid point, the wrong signer
        other = bytes.fromhex(VECTORS[(i + 1) % len(VECTORS)][2])
        assert not ed25519.verify(other, msg, sig), name + " other key"


def test_malformed_inputs_are_false_not_exceptions():
    pk, msg, sig = _vec(1)
    assert not ed25519.verify(pk[:31], msg, sig)
    assert not ed25519.verify(pk, msg, sig[:63])
    assert not ed25519.verify(pk, msg, sig + b"\x00")
    assert not ed25519.verify(b"", msg, b"")


def test_s_not_reduced_is_refused():
    # S + L satisfies the same group equation; RFC 8032 5.1.7 requires S < L
    pk, msg, sig = _vec(0)
    s = int.from_bytes(sig[32:], "little")
    forged = sig[:32] + (s + _L).to_bytes(32, "little")
    assert ed25519.verify(pk, msg, sig)
    assert not ed25519.verify(pk, msg, forged)


def test_non_canonical_point_encodings_are_refused():
    # y >= p (y = p + 1 would otherwise decode as y = 1, the identity's y)
    enc = (_P + 1).to_bytes(32, "little")
    assert ed25519._decode(enc) is None
    assert ed25519._decode((1).to_bytes(32, "little")) is not None
    # x = 0 with the sign bit set: y = 1 encodes the identity only with sign 0
    assert ed25519._decode((1 | (1 << 255)).to_bytes(32, "little")) is None
    # y = 2 is not the y of any point (u/v is not a square)
    assert ed25519._decode((2).to_bytes(32, "little")) is None


def test_decode_base_point():
    # The RFC's B encodes as 0x58666...66 (y = 4/5, x even)
    enc = bytes([0x58] + [0x66] * 31)
    pt = ed25519._decode(enc)
    assert pt is not None
    assert pt[0] == ed25519._B[0] and pt[1] == ed25519._B[1]
