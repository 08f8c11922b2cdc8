# Country plans: ring frequency and cadence, call-progress tones. Data only.
# Sources: ITU-T E.180 supplement, Asterisk indications.conf, spandsp tone tables
# (numbers collected in the developer docs' telephony.md). A tone is
# (f1 Hz, f2 Hz or 0, level dBm0, cadence ms as on/off pairs or None = steady).
# "cid" is how caller ID is presented (firmware/clip.py): Bell 202 or ETSI V.23 FSK
# after the first ring, or BT SIN 227 (line reversal, alert, V.23) before it.
# "digit_map" is the dial plan used when line.digit_map is "auto" (firmware/digitmap.py
# and docs/config.md). Each ends in x.T and *x.T: an ATA usually sits behind a PBX
# whose extensions and star codes no national plan knows, so anything still goes
# after the long timer; the rules before them only make known numbers faster
# (emergency numbers at once, complete national numbers after the short timer).

PLANS = {
    "US": {
        "ring_hz": 20, "ring_cadence": (2000, 4000), "cid": "bell202",
        # NANP (NANPA): 911; N11 service codes; 1 + NPA (NXX) + NXX + XXXX; 10-digit
        # NPA-NXX-XXXX; 011 international prefix; *XX vertical service codes
        "digit_map": "(911S0|[2-9]11|*xx|1[2-9]xx[2-9]xxxxxx|[2-9]xx[2-9]xxxxxx|011x.T"
                     "|*x.T|x.T)",
        "dial": (350, 440, -13, None),
        "ringback": (440, 480, -19, (2000, 4000)),
        "busy": (480, 620, -24, (500, 500)),
        "congestion": (480, 620, -24, (250, 250)),
        "waiting": (440, 0, -20, (300, 9700)),
    },
    "UK": {
        "ring_hz": 25, "ring_cadence": (400, 200, 400, 2000), "cid": "sin227",
        # Ofcom National Telephone Numbering Plan: 999 and 112; national numbers
        # 0 + 10 digits (some 01 areas 0 + 9: the long timer); 00 international
        "digit_map": "(999S0|112S0|0[1-9]xxxxxxxxx|00x.T|*x.T|x.T)",
        "dial": (350, 440, -13, None),
        "ringback": (400, 450, -19, (400, 200, 400, 2000)),
        "busy": (400, 0, -24, (375, 375)),
        "congestion": (400, 0, -24, (400, 350, 225, 525)),
        "waiting": (400, 0, -20, (100, 4000)),
    },
    "DE": {
        "ring_hz": 25, "ring_cadence": (1000, 4000), "cid": "v23",
        # Bundesnetzagentur numbering: 110 and 112; 116xxx (EU harmonised services,
        # Decision 2007/116/EC); 118xx directory enquiries; 00 international. German
        # area codes and subscriber numbers vary in length: 0... waits the long timer
        "digit_map": "(110S0|112S0|116xxx|118xx|00x.T|*x.T|x.T)",
        "dial": (425, 0, -13, None),
        "ringback": (425, 0, -19, (1000, 4000)),
        "busy": (425, 0, -24, (480, 480)),
        "congestion": (425, 0, -24, (240, 240)),
        "waiting": (425, 0, -20, (200, 200, 200, 5000)),
    },
    "AU": {
        "ring_hz": 25, "ring_cadence": (400, 200, 400, 2000), "cid": "v23",  # (unconfirmed)
        # ACMA Telecommunications Numbering Plan: 000, 112 and 106 (text relay);
        # 0 + 9 digits (02/03/07/08 geographic, 04 mobile); 13xxxx; 1300/1800 +
        # 6 digits; 0011 international
        "digit_map": "(000S0|112S0|106S0|0[23478]xxxxxxxx|13[1-9]xxx|1[38]00xxxxxx"
                     "|0011x.T|*x.T|x.T)",
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
