# Country plans: ring frequency and cadence, call-progress tones. Data only.
# Sources: ITU-T E.180 supplement, Asterisk indications.conf, spandsp tone tables
# (numbers collected in the developer docs' telephony.md). A tone is
# (f1 Hz, f2 Hz or 0, level dBm0, cadence ms as on/off pairs or None = steady).
# "cid" is how caller ID is presented (firmware/clip.py): Bell 202 or ETSI V.23 FSK
# after the first ring, or BT SIN 227 (line reversal, alert, V.23) before it.

PLANS = {
    "US": {
        "ring_hz": 20, "ring_cadence": (2000, 4000), "cid": "bell202",
        "dial": (350, 440, -13, None),
        "ringback": (440, 480, -19, (2000, 4000)),
        "busy": (480, 620, -24, (500, 500)),
        "congestion": (480, 620, -24, (250, 250)),
        "waiting": (440, 0, -20, (300, 9700)),
    },
    "UK": {
        "ring_hz": 25, "ring_cadence": (400, 200, 400, 2000), "cid": "sin227",
        "dial": (350, 440, -13, None),
        "ringback": (400, 450, -19, (400, 200, 400, 2000)),
        "busy": (400, 0, -24, (375, 375)),
        "congestion": (400, 0, -24, (400, 350, 225, 525)),
        "waiting": (400, 0, -20, (100, 4000)),
    },
    "DE": {
        "ring_hz": 25, "ring_cadence": (1000, 4000), "cid": "v23",
        "dial": (425, 0, -13, None),
        "ringback": (425, 0, -19, (1000, 4000)),
        "busy": (425, 0, -24, (480, 480)),
        "congestion": (425, 0, -24, (240, 240)),
        "waiting": (425, 0, -20, (200, 200, 200, 5000)),
    },
    "AU": {
        "ring_hz": 25, "ring_cadence": (400, 200, 400, 2000), "cid": "v23",  # (unconfirmed)
        "dial": (413, 438, -13, None),
        "ringback": (413, 438, -19, (400, 200, 400, 2000)),
        "busy": (425, 0, -24, (375, 375)),
        "congestion": (425, 0, -24, (375, 375)),
        "waiting": (425, 0, -20, (200, 200, 200, 4400)),
    },
}

TONES = ("dial", "ringback", "busy", "congestion", "waiting")


def plan(code):
    p = PLANS.get(code)
    if p is None:
        raise KeyError("no country plan %r (have %s)" % (code, ", ".join(sorted(PLANS))))
    return p
