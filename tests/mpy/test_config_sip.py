# SIP config fields added for issue 8: accept_from lists/CIDRs, the ring time-out, and
# secrets never shown in a CONFIG ERROR line whatever their (wrong) type.
import config
from check import eq, raises

BASE = '{"sip": {"server": "127.0.0.1", "user": "1001"%s}%s}'


def _err(sip_extra, more=""):
    return raises(config.ConfigError, config.parse, BASE % (sip_extra, more))


def test_secret_values_never_in_errors():
    for value in ("1234567", "98765.5", "true", "[4711]", '{"x": 31337}'):
        e = _err(', "password": %s' % value)
        eq(e.field, "sip.password", "field")
        for secret in ("1234567", "98765", "4711", "31337", "True", "true"):
            if secret in str(e):
                raise AssertionError("secret in %r" % str(e))
    e = _err("", ', "network": {"wifi_password": 55555555}')
    eq(e.field, "network.wifi_password", "field")
    if "55555555" in str(e):
        raise AssertionError("secret in %r" % str(e))
    e = _err(', "port": 99999999')          # not a secret: still shown
    eq("99999999" in str(e), True, "ordinary value shown")


def test_accept_from_list_and_cidr():
    c = config.parse(BASE % (', "accept_from": ["192.0.2.7", "192.0.2.8:5062", "10.0.0.0/8"]', ""))
    eq(c["sip"]["accept_from"], ["192.0.2.7", "192.0.2.8:5062", "10.0.0.0/8"], "list kept")
    eq(config.parse(BASE % ("", ""))["sip"]["accept_from"], "registrar", "default")
    eq(config.parse(BASE % (', "accept_from": "any"', ""))["sip"]["accept_from"], "any", "any")
    for bad in ('"everyone"', "[]", '["pbx.example.com"]', '["10.0.0.0/33"]', '["1.2.3.4:0"]',
                '["300.1.1.1"]', "[5060]", "5"):
        e = _err(', "accept_from": %s' % bad)
        eq(e.field, "sip.accept_from", "field for " + bad)


def test_ring_timeout():
    eq(config.parse(BASE % ("", ""))["sip"]["ring_timeout_s"], 180, "default")
    eq(config.parse(BASE % (', "ring_timeout_s": 30', ""))["sip"]["ring_timeout_s"], 30, "set")
    for bad in ("0", "5", "100000", '"60"'):
        eq(_err(', "ring_timeout_s": %s' % bad).field, "sip.ring_timeout_s", bad)
