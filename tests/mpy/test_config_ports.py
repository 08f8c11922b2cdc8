# Config of two FXS ports ("ports"): each port's config is the common one with its
# entry laid over it; what two ports may not share is refused with the field.
import json

import config
from check import eq
from test_config import bad   # raises ConfigError with that field and words

COMMON = {"sip": {"server": "127.0.0.1", "user": "1001", "password": "s", "sip_port": 5070},
          "line": {"country": "US"}, "sim": {"phone_port": 7001}}


def two(entry2, entry1=None, **extra):
    raw = dict(COMMON)
    raw.update(extra)
    raw["ports"] = [entry1 or {}, entry2]
    return json.dumps(raw)


PORT2 = {"sip": {"user": "1004", "password": "p4", "sip_port": 5072}}


def test_single_port_config_has_no_ports():
    c = config.parse(json.dumps(COMMON))
    eq("ports" in c, False, "a config without ports stays as it was")


def test_each_port_is_the_common_config_with_its_entry():
    c = config.parse(two({"sip": {"user": "1004", "password": "p4", "sip_port": 5072},
                          "line": {"country": "DE", "rx_gain_db": 3}}))
    p1, p2 = c["ports"]
    eq(c["sip"]["user"], "1001", "top-level sections are port 1's")
    eq(p1["sip"] is c["sip"], True, "port 1's sections are the top-level ones")
    eq((p2["sip"]["user"], p2["sip"]["auth_id"], p2["sip"]["password"]), ("1004", "1004", "p4"),
       "port 2's account (auth_id defaults to its own user)")
    eq((p2["sip"]["server"], p2["sip"]["sip_port"]), ("127.0.0.1", 5072), "server inherited")
    eq((p2["line"]["country"], p2["line"]["rx_gain_db"]), ("DE", 3), "port 2's line settings")
    eq((p1["line"]["country"], p1["line"]["rx_gain_db"]), ("US", 0), "port 1's untouched")
    eq((p1["sim"]["phone_port"], p2["sim"]["phone_port"]), (7001, 7002),
       "port 2's phone link defaults to the next TCP port")
    c = config.parse(two({"sip": PORT2["sip"], "sim": {"phone_port": 7100}}))
    eq(c["ports"][1]["sim"]["phone_port"], 7100, "a given phone port is kept")


def test_what_two_ports_may_not_share():
    bad(two({"sip": {"user": "1004"}}), "ports[1].sip.sip_port", ["5070", "ports[0]"])
    bad(two({"sip": {"sip_port": 5072}}), "ports[1].sip.user", ["1001@127.0.0.1", "ports[0]"])
    bad(two({"sip": PORT2["sip"], "rtp": {"port": 16384}},
            {"rtp": {"port": 16384}}), "ports[1].rtp.port", ["16384", "ports[0]"])
    bad(two({"sip": PORT2["sip"], "rtp": {"port": 16384}},
            {"rtp": {"port": 16384}}), "ports[1].rtp.port", ["own"])
    # port 1's fixed RTP port's RTCP (the next port) is port 2's SIP port
    bad(two({"sip": {"user": "1004", "sip_port": 16385}}, {"rtp": {"port": 16384}}),
        "ports[1].sip.sip_port", ["16385", "ports[0]'s rtp.port"])
    bad(two({"sip": PORT2["sip"], "sim": {"phone_port": 7001}}), "ports[1].sim.phone_port",
        ["7001", "ports[0]"])


def test_bad_entries_named():
    bad(two({"network": {"mode": "host"}}), "ports[1].network", ["not set per port"])
    bad(two({"sip": PORT2["sip"], "sim": {"timing": "esp32"}}), "ports[1].sim.timing",
        ["not set per port"])
    bad(two({"sip": {"user": "1004", "sip_port": "x"}}), "ports[1].sip.sip_port", ["integer"])
    bad(two({"sip": PORT2["sip"], "line": {"country": "XX"}}), "ports[1].line.country",
        ["unknown country"])
    bad(two({"sip": PORT2["sip"], "sip2": {}}), "ports[1].sip2", ["not set per port"])
    bad(two(5), "ports[1]", ["must be an object"])
    bad(json.dumps(dict(COMMON, ports=[])), "ports", ["1..4"])
    bad(json.dumps(dict(COMMON, ports={"sip": {}})), "ports", ["list"])
    # an error in the common part is named as the common field, not a port's
    bad(two(PORT2, line={"country": "XX"}), "line.country", ["unknown country"])


def test_secrets_redacted_in_every_port():
    c = config.parse(two(PORT2))
    r = config.redacted(c)
    eq([p["sip"]["password"] for p in r["ports"]], ["***", "***"], "ports' passwords hidden")
    eq(c["ports"][1]["sip"]["password"], "p4", "the config itself is untouched")
