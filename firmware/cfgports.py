# The config of a board with two or more FXS ports (config.py's "ports"). Each
# entry of the list is one port: its sections deep-merged over the config's own
# make that port's whole config, checked like any config; then what two ports may
# not share is checked across them (a SIP port, a fixed RTP port, the account, the
# sim's phone link). Errors name the field from the top of the file: "ports[1].sip.
# sip_port" is the second port's. Imported only for a config that has "ports".
from config import MAX_PORTS, PORT_SECTIONS, PORT_SIM_KEYS

_PER_PORT = "sip, rtp, line, mwi and sim.phone_port"


def _merge(base, extra):
    """base with each section of extra laid over it key by key (copies: base is kept)."""
    out = {}
    for sec, keys in base.items():
        out[sec] = dict(keys) if isinstance(keys, dict) else keys
    for sec, keys in extra.items():
        have = out.get(sec)
        if isinstance(have, dict):
            have.update(keys)
        else:
            out[sec] = dict(keys)
    return out


def _check_entry(where, entry, err):
    if not isinstance(entry, dict):
        raise err(where, "must be an object (a port's sections: %s)" % _PER_PORT)
    for sec, keys in entry.items():
        if sec not in PORT_SECTIONS:
            raise err(where + "." + sec, "not set per port (one for the board); per port: "
                      + _PER_PORT)
        if not isinstance(keys, dict):
            raise err(where + "." + sec, "must be an object")
        if sec == "sim":
            for k in keys:
                if k not in PORT_SIM_KEYS:
                    raise err(where + ".sim." + k, "not set per port (of sim only phone_port is)")


def validate(raw, one, err):
    """raw with "ports": port 1's config with cfg["ports"] = every port's config.
    one(raw) checks a config without ports; err is config.ConfigError."""
    ports = raw["ports"]
    if not isinstance(ports, list) or not 1 <= len(ports) <= MAX_PORTS:
        raise err("ports", "must be a list of 1..%d port objects, got %r"
                  % (MAX_PORTS, ports if not isinstance(ports, list) else len(ports)))
    common = {}
    for sec, keys in raw.items():
        if sec != "ports":
            common[sec] = keys
    sim = common.get("sim")
    phone0 = sim.get("phone_port", 7001) if isinstance(sim, dict) else 7001
    cfgs = []
    for i, entry in enumerate(ports):
        where = "ports[%d]" % i
        _check_entry(where, entry, err)
        merged = _merge(common, entry)
        own_phone = "phone_port" in entry.get("sim", {})
        if i and not own_phone and isinstance(phone0, int):
            # the sim: each port's phone has its own link, by default the next TCP port
            merged.setdefault("sim", {})["phone_port"] = phone0 + i
        try:
            cfgs.append(one(merged))
        except err as e:
            sec, _, key = e.field.partition(".")
            mine = key in (entry.get(sec) or {}) or (i and e.field == "sim.phone_port")
            if mine:
                raise err(where + "." + e.field, e.reason)
            raise
    _check_shared(cfgs, err)
    out = dict(cfgs[0])
    out["ports"] = cfgs
    return out


def _check_shared(cfgs, err):
    """What two ports may not share: a UDP port (SIP, a fixed RTP port and its RTCP),
    a SIP account, the sim's phone link."""
    udp = {}        # port number -> (port index, field)
    accounts = {}
    phones = {}
    for i, c in enumerate(cfgs):
        mine = [("sip.sip_port", c["sip"]["sip_port"])]
        if c["rtp"]["port"]:
            mine += [("rtp.port", c["rtp"]["port"]), ("rtp.port", c["rtp"]["port"] + 1)]
        for field, n in mine:
            j, other = udp.get(n, (i, None))
            if j != i:
                raise err("ports[%d].%s" % (i, field), "UDP port %d is already ports[%d]'s %s: "
                          "each port needs its own" % (n, j, other))
        for field, n in mine:
            udp.setdefault(n, (i, field))
        s = c["sip"]
        acct = "%s@%s" % (s["user"], s["domain"])
        if acct in accounts:
            raise err("ports[%d].sip.user" % i, "%s is already ports[%d]'s account: each port "
                      "registers its own" % (acct, accounts[acct]))
        accounts[acct] = i
        ph = c["sim"]["phone_port"]
        if ph in phones:
            raise err("ports[%d].sim.phone_port" % i, "%d is already ports[%d]'s phone link"
                      % (ph, phones[ph]))
        phones[ph] = i
