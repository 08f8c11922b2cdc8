# Config validation: defaults filled, every bad field named with its reason.
import config
from check import eq, raises

GOOD = '{"sip": {"server": "127.0.0.1", "user": "1001", "password": "s"}}'


def test_defaults_filled():
    c = config.parse(GOOD)
    eq(c["sip"]["port"], 5060, "port default")
    eq(c["sip"]["auth_id"], "1001", "auth id defaults to user")
    eq(c["line"]["country"], "US", "country default")
    eq((c["rtp"]["port_min"], c["rtp"]["port_max"]), (10000, 20000), "RTP port range default")
    eq(c["rtp"]["symmetric"], False, "symmetric RTP off by default")
    eq(c["rtp"]["port"], 0, "no fixed RTP port by default")


def bad(text, field, words):
    e = raises(config.ConfigError, config.parse, text)
    eq(e.field, field, "field of " + text)
    for w in words:
        if w not in str(e):
            raise AssertionError("%r not in %r" % (w, str(e)))


def test_bad_fields_named():
    bad('{"sip": {"server": "h", "user": "1001", "port": "x"}}', "sip.port", ["integer"])
    bad('{"sip": {"server": "h", "user": "1001", "port": 70000}}', "sip.port", ["1..65535"])
    bad('{"sip": {"server": "h"}}', "sip.user", ["required"])
    bad('{"sip": {"server": "h", "user": "1001"}, "line": {"country": "XX"}}', "line.country",
        ["unknown country"])
    bad('{"sip": {"server": "h", "user": "1001"}, "rtp": {"port_min": 20001}}', "rtp.port_min",
        ["even"])
    bad('{"sip": {"server": "h", "user": "1001"}, "rtp": {"port_min": 20000, "port_max": 20050}}',
        "rtp.port_max", ["at least", "100"])
    bad('{"sip": {"server": "h", "user": "1001"}, "rtp": {"port_min": 20000, "port_max": 10000}}',
        "rtp.port_max", ["at least"])
    bad('{"sip": {"server": "h", "user": "1001"}, "rtp": {"port_min": 100}}', "rtp.port_min",
        ["1024"])
    bad('{"sip": {"server": "h", "user": "1001"}, "rtp": {"port": 20001}}', "rtp.port", ["even"])
    bad('{"sip": {"server": "h", "user": "1001"}, "rtp": {"symmetric": 1}}', "rtp.symmetric",
        ["true or false"])
    bad('{"sip": {"server": "h", "user": "1001", "colour": 1}}', "sip.colour", ["unknown field"])
    bad('{"sip": {"server": "h", "user": "1001"}, "line": {"flash_min_ms": 300, '
        '"flash_max_ms": 800, "hangup_ms": 500}}', "line.hangup_ms", ["at least"])
    bad('{"sip": ', "(file)", ["JSON"])
    bad('[1]', "(top)", ["object"])


def test_bool_is_not_an_int():
    bad('{"sip": {"server": "h", "user": "1001", "port": true}}', "sip.port", ["integer"])


def test_redacted_hides_password():
    eq(config.redacted(config.parse(GOOD))["sip"]["password"], "***", "redacted")


def test_line_gains_and_dtmf_method():
    c = config.parse(GOOD)
    eq((c["line"]["rx_gain_db"], c["line"]["tx_gain_db"]), (0, 0), "gains default to 0 dB")
    eq(c["line"]["dtmf_method"], "rfc4733", "DTMF method default")
    ok = config.parse('{"sip": {"server": "h", "user": "1001"}, "line": {"rx_gain_db": -12, '
                      '"tx_gain_db": 12, "dtmf_method": "info"}}')["line"]
    eq((ok["rx_gain_db"], ok["tx_gain_db"], ok["dtmf_method"]), (-12, 12, "info"), "set")
    line = '{"sip": {"server": "h", "user": "1001"}, "line": {%s}}'
    bad(line % '"rx_gain_db": 13', "line.rx_gain_db", ["-12..12", "13"])
    bad(line % '"tx_gain_db": -13', "line.tx_gain_db", ["-12..12", "-13"])
    bad(line % '"tx_gain_db": 1.5', "line.tx_gain_db", ["integer", "1.5"])   # whole dB
    bad(line % '"rx_gain_db": "6"', "line.rx_gain_db", ["integer"])
    bad(line % '"rx_gain_db": true', "line.rx_gain_db", ["integer"])
    bad(line % '"dtmf_method": "rfc2833"', "line.dtmf_method",
        ["rfc4733/inband/info", "rfc2833"])
    bad(line % '"dtmf_method": "INFO"', "line.dtmf_method", ["one of"])
