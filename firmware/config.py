# Configuration: a JSON file checked field by field against SCHEMA. A bad file is
# refused with the field and the reason; the last good one (if any) stays in use.
import json

import country
import digitmap

# section -> key -> (type, default, check or None). default None = required.
_ANY = None
SCHEMA = {
    "sip": {
        "server": (str, None, "host"),
        "port": (int, 5060, "port"),
        "user": (str, None, "token"),
        "auth_id": (str, "", "token_or_empty"),
        "password": (str, "", _ANY),
        "domain": (str, "", _ANY),
        "sip_port": (int, 5060, "port"),
        "expires": (int, 300, (60, 86400)),
        "accept_from": ((str, list), "registrar", "accept_from"),
        "ring_timeout_s": (int, 180, (10, 300)),
        "no_answer_s": (int, 120, (5, 600)),    # an outgoing call ringing on: CANCEL, reorder
        "user_agent": (str, "MicroPython-ATA", _ANY),
    },
    "rtp": {
        "port": (int, 0, "even_port_or_0"),
        "port_min": (int, 10000, "even_port"),
        "port_max": (int, 20000, "port"),
        "symmetric": (bool, False, _ANY),
        "codecs": (str, "PCMU,PCMA", "codecs"),
        "dtmf_pt": (int, 101, (96, 127)),
    },
    "line": {
        "country": (str, "US", "country"),
        "flash_min_ms": (int, 100, (40, 400)),
        "flash_max_ms": (int, 900, (400, 1600)),
        "hangup_ms": (int, 900, (400, 5000)),
        "debounce_ms": (int, 10, (2, 30)),
        "digit_gap_ms": (int, 150, (80, 400)),
        "interdigit_ms": (int, 4000, (1000, 20000)),          # the digit map's long timer
        "interdigit_short_ms": (int, 2000, (0, 20000)),       # its short timer
        "digit_map": (str, "auto", "digit_map"),              # "auto": the country's plan
        "first_digit_ms": (int, 15000, (3000, 60000)),
        "fail_tone_ms": (int, 30000, (1000, 120000)),   # busy/reorder off-hook, then howler
        "howler_ms": (int, 60000, (0, 300000)),         # howler (0: none), then silence
        "pulse_map": (str, "normal", ("normal", "nz", "se")),
        "caller_id": (str, "auto", ("auto", "off", "bell202", "v23", "sin227",
                                          "dtmf")),
        # Alert-Info token -> distinctive ring, "token:dr2,token:800/400/800/4000"
        # (firmware/alert.py); before the built-in Bellcore-drN names
        "ring_map": (str, "", "ring_map"),
        # a second call during a call: waiting tone + caller ID, hook flash swaps
        # (firmware/cidcw.py, waiting.py); false: it gets 486 Busy Here
        "call_waiting": (bool, True, _ANY),
        # hook flash in a call holds it and gives recall dial tone for a second call
        # (firmware/flashcall.py). transfer: hanging up then hands the held call to
        # the second (REFER); false: the second call ends, the held one rings back.
        # three_way: flash with the second call answered joins all three; false: the
        # second call ends and the held one resumes
        "transfer": (bool, True, _ANY),
        "three_way": (bool, True, _ANY),
        # gains in whole dB on the call's audio (firmware/media.py): rx toward the
        # earpiece, tx from the microphone toward the network (after DTMF detection)
        "rx_gain_db": (int, 0, (-12, 12)),
        "tx_gain_db": (int, 0, (-12, 12)),
        # how a key pressed in a call reaches the far end: RFC 4733 telephone-events,
        # in the audio only, or SIP INFO application/dtmf-relay (firmware/callctl.py)
        "dtmf_method": (str, "rfc4733", ("rfc4733", "inband", "info")),
    },
    "mwi": {                                        # message waiting (RFC 3842)
        "subscribe": (bool, False, _ANY),           # SUBSCRIBE to message-summary (else
                                                    # the PBX's unsolicited NOTIFYs only)
        "expires": (int, 3600, (60, 86400)),        # the subscription's Expires
        "stutter": (bool, True, _ANY),              # stutter dial tone while messages wait
        "visual": (bool, True, _ANY),               # the phone's lamp (VMWI FSK on-hook)
    },
    "network": {
        "mode": (str, "host", ("host", "wifi", "ethernet")),
        "ip": (str, "127.0.0.1", "host"),
        "wifi_ssid": (str, "", _ANY),
        "wifi_password": (str, "", _ANY),
    },
    "board": {
        "cpu_mhz": (int, 0, (0, 1000)),   # CPU clock; 0: the board's full speed (board.py)
    },
    "sim": {
        "phone_port": (int, 7001, "port"),
        "network_after_ms": (int, 0, (0, 600000)),   # the sim's network is down this long
        "timing": (str, "ideal", ("ideal", "esp32", "rp2")),  # how its timers behave
        "timing_seed": (int, 1, (0, 1000000)),
    },
    "ota": {
        "url": (str, "", "url_or_empty"),           # the signed bundle to pull (http/https)
        "health_s": (int, 60, (2, 3600)),           # registered, no task crash this long: kept
        "probation_s": (int, 600, (10, 7200)),      # a new version not healthy by then: rolled back
        "interval_h": (int, 0, (0, 720)),           # pull this often (0: only when told)
    },
}

# Two or more FXS ports (a board's board.json lists them): "ports", one object per
# port, each deep-merged over the sections above to make that port's config. Only
# these sections (and of sim, only its phone link) may differ between ports.
PORT_SECTIONS = ("sip", "rtp", "line", "mwi", "sim")
PORT_SIM_KEYS = ("phone_port",)
MAX_PORTS = 4

SECRET_KEYS = ("password", "wifi_password")
_RTP_MIN_PORTS = 100   # the RTP range must hold at least this many ports (50 pairs)


class ConfigError(ValueError):
    def __init__(self, field, reason):
        super().__init__("%s: %s" % (field, reason))
        self.field = field
        self.reason = reason


def _is_token(v):
    return bool(v) and all(c.isalpha() or c.isdigit() or c in "-_.!~*'()+%" for c in v)


def _ipv4_ok(s):
    parts = s.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255
                                   for p in parts)


def _acl_entry_ok(entry):
    """'1.2.3.4', '1.2.3.4:5060' or '10.0.0.0/8' (numeric: trust needs no DNS)."""
    if not isinstance(entry, str):
        return False
    if "/" in entry:
        net, _, bits = entry.partition("/")
        return _ipv4_ok(net) and bits.isdigit() and int(bits) <= 32
    ip, colon, port = entry.partition(":")
    if colon and not (port.isdigit() and 1 <= int(port) <= 65535):
        return False
    return _ipv4_ok(ip)


def _check(field, value, check):
    if check is None:
        return
    if isinstance(check, tuple):
        if isinstance(check[0], int):
            if not check[0] <= value <= check[1]:
                raise ConfigError(field, "must be %d..%d, got %d" % (check[0], check[1], value))
        elif value not in check:
            raise ConfigError(field, "must be one of %s, got %r" % ("/".join(check), value))
    elif check == "even_port_or_0" and value == 0:
        pass
    elif check in ("port", "even_port", "even_port_or_0"):
        if not 1 <= value <= 65535:
            raise ConfigError(field, "must be a port number 1..65535, got %d" % value)
        if check != "port" and value % 2:
            raise ConfigError(field, "RTP port must be even (RTCP uses the next one), got %d" % value)
    elif check == "host":
        if not value or " " in value or len(value) > 253:
            raise ConfigError(field, "must be a host name or IP address, got %r" % value)
    elif check == "token":
        if not _is_token(value):
            raise ConfigError(field, "must be a non-empty SIP user name, got %r" % value)
    elif check == "token_or_empty":
        if value and not _is_token(value):
            raise ConfigError(field, "must be a SIP user name, got %r" % value)
    elif check == "country":
        if value not in country.CODES:
            raise ConfigError(field, "unknown country %r (have %s)"
                              % (value, ", ".join(sorted(country.CODES))))
    elif check == "digit_map":
        if value != "auto":
            try:
                digitmap.DigitMap(value)      # compiled to check it; the line compiles its own
            except ValueError as e:
                raise ConfigError(field, "bad digit map: %s" % (e,))
    elif check == "ring_map":
        if not value:
            return                # the usual case: no import of alert (heap) for nothing
        import alert
        try:
            alert.parse_map(value)
        except ValueError as e:
            raise ConfigError(field, "bad ring map: %s" % (e,))
    elif check == "accept_from":
        if isinstance(value, str):
            if value not in ("registrar", "any"):
                raise ConfigError(field, "must be registrar, any or a list of addresses, "
                                  "got %r" % value)
            return
        if not value or len(value) > 16:
            raise ConfigError(field, "must list 1..16 addresses")
        for entry in value:
            if not _acl_entry_ok(entry):
                raise ConfigError(field, "entries are IPv4 addresses, ip:port or CIDR "
                                  "(10.0.0.0/8), got %r" % (entry,))
    elif check == "url_or_empty":
        if value and (" " in value or not (value.startswith("http://")
                                            or value.startswith("https://"))):
            raise ConfigError(field, "must be an http:// or https:// URL, got %r" % value)
    elif check == "codecs":
        names = value.split(",")
        if not names or any(n not in ("PCMU", "PCMA") for n in names):
            raise ConfigError(field, "must list PCMU and/or PCMA, got %r" % value)


def validate(raw):
    """Return a complete config dict (defaults filled) or raise ConfigError. With a
    "ports" list, the sections are port 1's and cfg["ports"] holds every port's whole
    config (firmware/main.py builds a line per entry)."""
    if not isinstance(raw, dict):
        raise ConfigError("(top)", "must be a JSON object")
    if "ports" in raw:
        import cfgports                   # only a config with ports pays for it
        return cfgports.validate(raw, _validate, ConfigError)
    return _validate(raw)


def _validate(raw):
    for section in raw:
        if section not in SCHEMA:
            raise ConfigError(section, "unknown section (have %s)" % ", ".join(sorted(SCHEMA)))
    out = {}
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(section, "must be an object")
        for key in given:
            if key not in keys:
                raise ConfigError(section + "." + key, "unknown field")
        sec = {}
        for key, (typ, default, check) in keys.items():
            field = section + "." + key
            if key in given:
                value = given[key]
                if type(value) not in (typ if isinstance(typ, tuple) else (typ,)):
                    # bool is not an int here; a secret's value is never shown
                    raise ConfigError(field, "must be %s, got %s" % (
                        {int: "an integer", bool: "true or false"}.get(typ, "a string"),
                        "%s (value not shown)" % type(value).__name__ if key in SECRET_KEYS
                        else repr(value)))
            elif default is None:
                raise ConfigError(field, "is required")
            else:
                value = default
            _check(field, value, check)
            sec[key] = value
        out[section] = sec
    line = out["line"]
    if line["flash_min_ms"] >= line["flash_max_ms"]:
        raise ConfigError("line.flash_min_ms", "must be below line.flash_max_ms")
    if line["hangup_ms"] < line["flash_max_ms"]:
        raise ConfigError("line.hangup_ms", "must be at least line.flash_max_ms")
    if "interdigit_short_ms" not in raw.get("line", {}):
        # the default short timer never outlasts a long timer set below it
        line["interdigit_short_ms"] = min(line["interdigit_short_ms"], line["interdigit_ms"])
    if line["interdigit_short_ms"] > line["interdigit_ms"]:
        raise ConfigError("line.interdigit_short_ms", "must be at most line.interdigit_ms")
    if line["digit_gap_ms"] >= line["interdigit_ms"]:
        raise ConfigError("line.digit_gap_ms", "must be below line.interdigit_ms")
    rtp = out["rtp"]
    if rtp["port_min"] < 1024:
        raise ConfigError("rtp.port_min", "must be at least 1024, got %d" % rtp["port_min"])
    if rtp["port_max"] - rtp["port_min"] + 1 < _RTP_MIN_PORTS:
        raise ConfigError("rtp.port_max", "must be at least rtp.port_min + %d (a range of %d "
                          "ports to pick from at random), got %d..%d" % (
                              _RTP_MIN_PORTS - 1, _RTP_MIN_PORTS, rtp["port_min"],
                              rtp["port_max"]))
    if out["ota"]["health_s"] >= out["ota"]["probation_s"]:
        raise ConfigError("ota.health_s", "must be below ota.probation_s")
    if not out["sip"]["auth_id"]:
        out["sip"]["auth_id"] = out["sip"]["user"]
    if not out["sip"]["domain"]:
        out["sip"]["domain"] = out["sip"]["server"]
    return out


def parse(text):
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ConfigError("(file)", "not valid JSON (%s)" % (e,))
    return validate(raw)


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("(file)", "cannot read %s (%s)" % (path, e))
    return parse(text)


def redacted(cfg):
    """A copy for printing, secrets replaced."""
    out = {}
    for section, keys in cfg.items():
        if section == "ports":
            out[section] = [redacted(p) for p in keys]
            continue
        out[section] = {k: ("***" if k in SECRET_KEYS and v else v) for k, v in keys.items()}
    return out
