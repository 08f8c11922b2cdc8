# Country plans: ring frequency and cadence, call-progress tones, caller ID, dial plan.
# Data only; docs/countries.md has the table and the sources.
#
# plan(code) gives a dict: "ring_hz", "ring_cadence" (ms on, off, ...), "cid",
# "digit_map", and the tones. A tone is (f1 Hz, f2 Hz or 0, level dBm0 per component,
# cadence ms as on/off pairs or None = steady). Levels are the project's house levels for every country (dial
# -13, ringback -19, busy and congestion -24, call waiting -20 dBm0; telephony.md),
# not national figures. "reorder" (a number that cannot be reached) is given where
# the country has its own (else the congestion tone is played); "howler" (receiver
# off hook) only where the source names one: a plan without it goes from the busy or
# reorder tone straight to silence.
#
# "cid" is how caller ID is presented (firmware/clip.py): "bell202" (GR-30 FSK after
# the first ring), "v23" (ETSI EN 300 659-1 V.23 FSK during ringing, after the first
# ring), "sin227" (BT SIN 227 / EN 300 659-1 before the first ring: line reversal,
# dual-tone alert, V.23) or "dtmf" (ETSI DTMF caller ID before the first ring after a
# line reversal, A<number>C).
#
# "digit_map" is the dial plan used when line.digit_map is "auto" (firmware/digitmap.py
# and docs/config.md). Each ends in x.T and *x.T: an ATA usually sits behind a PBX
# whose extensions and star codes no national plan knows, so anything still goes
# after the long timer; the rules before them only make known numbers faster
# (emergency numbers at once, complete national numbers after the short timer).
#
# Sources, cited per value below:
#  [E180] ITU-T E.180 Supplement 2, "Various tones used in national networks"
#         (ITU Operational Bulletin annex, the list Asterisk cites as tones-0203),
#         as transcribed in Asterisk's configs/samples/indications.conf.sample
#  [AST]  Asterisk indications.conf.sample where it fills a gap E.180 leaves
#         ("not specified" there): the value is a convention, not a national figure
#  [659]  ETSI EN 300 659-1 (on-hook data transmission: FSK and DTMF caller ID)
# "(unconfirmed)" marks a value no primary source at hand confirms: check it first.
#
# Memory: each plan is one string constant, "key=value;..." (adjacent literals are
# joined by the compiler, so each field keeps its comment). A string constant of a
# frozen or ROMFS module stays in flash, where tuples and dicts would be built on the
# heap when the module loads; plan() parses only the configured country's string.
# Tone fields are f1,f2,level[,on,off,...]; the ring cadence is on,off,...
#
# "stutter" (message waiting, optional) is bursts,on,off: that many bursts of the dial
# tone, then the dial tone itself; a plan without it uses the US pattern (STUTTER).
# Other countries' "stutter" in [AST] is no burst pattern (DE 425+400 Hz, IT/NO 470/425
# Hz alternating, NL 425 Hz 500/50 ms) or missing: not modelled, they get the fallback.
# "dr2".."dr5" (optional) are distinctive ring cadences for Alert-Info (firmware/
# alert.py), read by field() only for a call that asks (not kept in plan()'s dict);
# a plan without one rings its normal cadence for it.

CODES = ("US", "UK", "DE", "AU", "FR", "IT", "NL", "ES", "SE", "NO", "NZ", "JP")

TONES = ("dial", "ringback", "busy", "congestion", "waiting")   # every plan has these
OPTIONAL_TONES = ("reorder", "howler")   # without "reorder", congestion is played
STUTTER = (10, 100, 100)   # the US pattern: the fallback of a plan without its own
DISTINCTIVE = ("dr2", "dr3", "dr4", "dr5")

_US = (
    # ring 20 Hz, 2 s on 4 s off: Telcordia GR-506 / [E180] us; Bell 202 FSK: GR-30
    "ring=20;cadence=2000,4000;cid=bell202;"
    # NANP (NANPA): 911; N11 service codes; 1 + NPA (NXX) + NXX + XXXX; 10-digit
    # NPA-NXX-XXXX; 011 international prefix; *XX vertical service codes
    "map=(911S0|[2-9]11|*xx|1[2-9]xx[2-9]xxxxxx|[2-9]xx[2-9]xxxxxx|011x.T|*x.T|x.T);"
    "dial=350,440,-13;"                     # [E180] us, the precise tone plan
    "ringback=440,480,-19,2000,4000;"       # [E180]
    "busy=480,620,-24,500,500;"             # [E180]
    "congestion=480,620,-24,250,250;"       # [E180] reorder
    "waiting=440,0,-20,300,9700;"           # [E180] 0.3 s each 10 s
    # receiver off hook: GR-506 1400+2060+2450+2600 Hz, 0.1 s on 0.1 s off, loud; the
    # two-component generator plays the lower pair, -3 dBm0 each
    "howler=1400,2060,-3,100,100;"
    # message waiting: stutter dial tone, 10 bursts of 0.1 s on 0.1 s off, then steady
    # (GR-506 as telephony.md gives it; Asterisk's [AST] us "stutter" has 6 bursts)
    "stutter=10,100,100;"
    # distinctive ringing (Alert-Info Bellcore-dr2..dr5), Telcordia GR-506 patterns as
    # the Cisco SPA/Linksys ring cadences 2-5 give them: dr2 long-long, dr3
    # short-short-long, dr4 short-long-short, dr5 a 0.5 s splash (repeated here every
    # 6 s; unconfirmed); dr1 is the normal 2/4 s ring
    "dr2=800,400,800,4000;dr3=400,200,400,200,800,4000;dr4=300,200,1000,200,300,4000;"
    "dr5=500,5500"
)

_UK = (
    # ring 25 Hz (unconfirmed); 0.4/0.2/0.4/2 s: BT SIN 350 via [E180]
    "ring=25;cadence=400,200,400,2000;cid=sin227;"
    # Ofcom National Telephone Numbering Plan: 999 and 112; national numbers 0 + 10
    # digits (some 01 areas 0 + 9: the long timer); 00 international
    "map=(999S0|112S0|0[1-9]xxxxxxxxx|00x.T|*x.T|x.T);"
    "dial=350,440,-13;"                     # BT SIN 350 via [E180]
    "ringback=400,450,-19,400,200,400,2000;"   # BT SIN 350
    "busy=400,0,-24,375,375;"               # BT SIN 350 "engaged"
    "congestion=400,0,-24,400,350,225,525;"    # BT SIN 350 "beep-bip"
    "reorder=400,0,-24;"                    # BT SIN 350 "number unobtainable", steady
    "waiting=400,0,-20,100,4000"            # BT SIN 350
)

_DE = (
    # ring 25 Hz; 1 s on 4 s off: [E180] de; ETSI V.23 after the first ring [659]
    "ring=25;cadence=1000,4000;cid=v23;"
    # Bundesnetzagentur numbering: 110 and 112; 116xxx (EU harmonised services,
    # Decision 2007/116/EC); 118xx directory enquiries; 00 international. German area
    # codes and subscriber numbers vary in length: 0... waits the long timer
    "map=(110S0|112S0|116xxx|118xx|00x.T|*x.T|x.T);"
    "dial=425,0,-13;"                       # [E180] de
    "ringback=425,0,-19,1000,4000;"         # [E180]
    "busy=425,0,-24,480,480;"               # [E180]
    "congestion=425,0,-24,240,240;"         # [E180]
    "waiting=425,0,-20,200,200,200,5000"    # [E180]
)

_AU = (
    # ring 25 Hz (unconfirmed); 0.4/0.2/0.4/2 s: ACIF S002 via [AST] au; V.23 (unconfirmed)
    "ring=25;cadence=400,200,400,2000;cid=v23;"
    # ACMA Telecommunications Numbering Plan: 000, 112 and 106 (text relay); 0 + 9
    # digits (02/03/07/08 geographic, 04 mobile); 13xxxx; 1300/1800 + 6; 0011
    "map=(000S0|112S0|106S0|0[23478]xxxxxxxx|13[1-9]xxx|1[38]00xxxxxx|0011x.T|*x.T|x.T);"
    "dial=413,438,-13;"                     # ACIF S002 via [AST]
    "ringback=413,438,-19,400,200,400,2000;"   # ACIF S002
    "busy=425,0,-24,375,375;"               # ACIF S002
    # ACIF S002 drops every other congestion burst by 10 dB: not modelled
    "congestion=425,0,-24,375,375;"
    "waiting=425,0,-20,200,200,200,4400"    # ACIF S002
)

_FR = (
    # ring 50 Hz (France Telecom practice; unconfirmed); 1.5 s on 3.5 s off [E180] fr;
    # caller ID ETSI V.23 FSK between the first and second ring [659] (unconfirmed as
    # the French operators' choice)
    "ring=50;cadence=1500,3500;cid=v23;"
    # ARCEP plan national de numerotation: 15 SAMU, 17 police, 18 pompiers, 112, 114
    # (deaf and hard of hearing), 115 (shelter), 119 (children); 116xxx; 118xyz
    # directories; 3BPQ short numbers; 0 + 9 digits; 00 international
    "map=(15S0|17S0|18S0|11[2459]S0|116xxx|118xxx|3xxx|0[1-9]xxxxxxxx|00x.T|*x.T|x.T);"
    "dial=440,0,-13;"                       # [E180] fr (also 330+440 there)
    "ringback=440,0,-19,1500,3500;"         # [E180]
    "busy=440,0,-24,500,500;"               # [E180]
    "congestion=440,0,-24,250,250;"         # [AST] (E180: not specified)
    "waiting=440,0,-20,300,10000;"          # [E180]
    "stutter=6,100,100"                     # [AST] fr "stutter": 6 x 0.1/0.1 s, then steady
)

_IT = (
    # ring 25 Hz (unconfirmed); 1 s on 4 s off [E180] it; V.23 after the ring (unconfirmed)
    "ring=25;cadence=1000,4000;cid=v23;"
    # AGCOM Piano di numerazione (delibera 8/15/CIR): 112 NUE, 113 police, 115 fire,
    # 117 Guardia di Finanza, 118 health; 116xxx; mobile 3xx + 7 digits; 800/803
    # free-phone + 6; geographic 0 + 5..10 digits (long timer); 00 international
    "map=(11[23578]S0|116xxx|3xxxxxxxxx|80[03]xxxxxx|00x.T|*x.T|x.T);"
    "dial=425,0,-13,200,200,600,1000;"      # [E180] it: a cadenced dial tone
    "ringback=425,0,-19,1000,4000;"         # [E180]
    "busy=425,0,-24,500,500;"               # [E180]
    "congestion=425,0,-24,200,200;"         # [E180]
    "waiting=425,0,-20,400,100,250,100,150,14000"   # [E180]
)

_NL = (
    # ring 25 Hz (telephony.md: unconfirmed); 1 s on 4 s off [E180] nl; caller ID by
    # DTMF before the first ring (telephony.md; spandsp adsi.h lists NL), A<number>C
    "ring=25;cadence=1000,4000;cid=dtmf;"
    # ACM Nummerplan: 112; 116xxx; 0 + 9 digits (0800/0900 + 4..7: long timer); 00
    "map=(112S0|116xxx|0[1-9]xxxxxxxx|00x.T|*x.T|x.T);"
    "dial=425,0,-13;"                       # [E180] nl (some exchanges 450 Hz)
    "ringback=425,0,-19,1000,4000;"         # [E180]
    "busy=425,0,-24,500,500;"               # [E180]
    "congestion=425,0,-24,250,250;"         # [E180]
    "waiting=425,0,-20,500,9500"            # [E180]
)

_ES = (
    # ring 25 Hz (unconfirmed); 1.5 s on 3 s off [AST] es; V.23 after the ring (unconfirmed)
    "ring=25;cadence=1500,3000;cid=v23;"
    # CNMC Plan nacional de numeracion: 112; 016 (gender violence), 061 health, 062
    # Guardia Civil, 080 bomberos, 091 Policia Nacional, 092 local police; 116xxx;
    # 9-digit closed plan, no trunk prefix (6/7 mobile, 8/9 fixed); 00 international
    "map=(112S0|016S0|06[12]S0|080S0|09[12]S0|116xxx|[6-9]xxxxxxxx|00x.T|*x.T|x.T);"
    "dial=425,0,-13;"                       # [AST] es
    "ringback=425,0,-19,1500,3000;"         # [AST]
    "busy=425,0,-24,200,200;"               # [AST]
    "congestion=425,0,-24,200,200,200,200,200,600;"   # [AST]
    "waiting=425,0,-20,175,175,175,3500"    # [AST]
)

_SE = (
    # ring 25 Hz (unconfirmed); 1 s on 5 s off [AST] se; caller ID by DTMF A<number>C
    # before the first ring (Telia: keys 70 ms on, 70 ms off; telephony.md)
    "ring=25;cadence=1000,5000;cid=dtmf;"
    # PTS nummerplan: 112; 11414 police, 1177 health advice; 116xxx; mobile 07x + 7
    # digits; other national numbers 0 + 7..9 (long timer); 00 international
    "map=(112S0|11414|1177|116xxx|07[02369]xxxxxxx|00x.T|*x.T|x.T);"
    "dial=425,0,-13;"                       # [AST] se
    "ringback=425,0,-19,1000,5000;"         # [AST]
    "busy=425,0,-24,250,250;"               # [AST]
    "congestion=425,0,-24,250,750;"         # [AST]
    "waiting=425,0,-20,200,500,200,9100"    # [AST]
)

_NO = (
    # ring 25 Hz (unconfirmed); 1 s on 4 s off [AST] no; V.23 after the ring (unconfirmed)
    "ring=25;cadence=1000,4000;cid=v23;"
    # Nkom nummerplan: 110 fire, 112 police, 113 ambulance; 116xxx; closed 8-digit
    # plan without trunk prefix; 00 international
    "map=(11[023]S0|116xxx|[2-9]xxxxxxx|00x.T|*x.T|x.T);"
    "dial=425,0,-13;"                       # [AST] no
    "ringback=425,0,-19,1000,4000;"         # [AST]
    "busy=425,0,-24,500,500;"               # [AST]
    "congestion=425,0,-24,200,200;"         # [AST]
    "waiting=425,0,-20,200,600,200,10000"   # [AST]
)

_NZ = (
    # ring 25 Hz (unconfirmed); 0.4/0.2/0.4/2 s: Telepermit TNA 102 via [AST] nz;
    # V.23 after the ring (unconfirmed)
    "ring=25;cadence=400,200,400,2000;cid=v23;"
    # NZ numbering plan (TCF): 111 (and 112); 0 + area 3/4/6/7/9 + 7 digits;
    # 0800/0508 free-phone + 6 digits; mobile 02x (varying: long timer); 00
    "map=(111S0|112S0|0[34679][2-9]xxxxxx|0800xxxxxx|0508xxxxxx|00x.T|*x.T|x.T);"
    "dial=400,0,-13;"                       # TNA 102 via [AST]
    "ringback=400,450,-19,400,200,400,2000;"   # TNA 102
    "busy=400,0,-24,500,500;"               # TNA 102
    "congestion=400,0,-24,250,250;"         # TNA 102
    "reorder=400,0,-24,75,100,75,100,75,100,75,400;"   # TNA 102 "unobtainable"
    "waiting=400,0,-20,200,3000;"           # TNA 102 (4 bursts there, repeating here)
    "stutter=6,100,100"                     # [AST] nz "stutter": 6 x 0.1/0.1 s, then steady
)

_JP = (
    # ring 16 Hz, 1 s on 2 s off: NTT technical reference "Interfaces for telephone
    # services" (edition unconfirmed); cadence also [AST] jp. Caller ID: NTT's number
    # display (V.23 after the phone answers a CAR signal off hook, its own message
    # format) is not implemented; the closest supported, ETSI V.23 after the first
    # ring, is used
    "ring=16;cadence=1000,2000;cid=v23;"
    # MIC numbering: 110 police, 118 coast guard, 119 fire and ambulance; mobile and
    # IP 050/070/080/090 + 8 digits; fixed 0 + 9 digits; 010 international
    "map=(11[089]S0|0[5789]0xxxxxxxx|0[1-9][1-9]xxxxxxx|010x.T|*x.T|x.T);"
    "dial=400,0,-13;"                       # [AST] jp
    # ringback 400 Hz modulated by 16 Hz ([E180] "400*16"): played as 392 + 408 Hz,
    # whose sum is 400 Hz with an envelope beating 16 times a second; -22 dBm0 each
    # is -19 together
    "ringback=392,408,-22,1000,2000;"
    "busy=400,0,-24,500,500;"               # [AST]
    "congestion=400,0,-24,500,500;"         # [AST] the same as busy
    "waiting=392,408,-23,500,8000;"         # [AST] "400+16": played as the ringback
    "stutter=6,100,100"                     # [AST] jp "stutter": 6 x 0.1/0.1 s, then steady
)

_KEYS = {"ring": "ring_hz", "cadence": "ring_cadence", "map": "digit_map"}


def _ints(text):
    return tuple(int(v) for v in text.split(","))


def parse(text):
    """The plan dict of one plan string (see the top of this module)."""
    p = {}
    for field in text.split(";"):
        key, _, value = field.partition("=")
        if key == "ring":
            p["ring_hz"] = int(value)
        elif key == "cadence":
            p["ring_cadence"] = _ints(value)
        elif key in DISTINCTIVE:
            pass                  # read on demand by field(): most calls never need them
        elif key == "stutter":
            v = _ints(value)
            if len(v) != 3:
                raise ValueError("stutter: bursts,on,off")
            p[key] = v
        elif key in ("cid", "map"):
            p[_KEYS.get(key, key)] = value
        else:
            v = _ints(value)
            if len(v) < 3 or len(v) % 2 == 0:
                raise ValueError("tone %s: f1,f2,level then on/off pairs" % key)
            p[key] = (v[0], v[1], v[2], v[3:] or None)
    return p


def field(code, key):
    """One field of a plan without the rest: a distinctive ring cadence ("dr2".."dr5")
    as a tuple of ms, or None when the plan has none (they are left out of plan())."""
    for f in globals()["_" + code].split(";"):
        k, _, value = f.partition("=")
        if k == key:
            return _ints(value)
    return None


def plan(code):
    """The plan of one country (a new dict each call: keep the one you use)."""
    if code not in CODES:
        raise KeyError("no country plan %r (have %s)" % (code, ", ".join(CODES)))
    return parse(globals()["_" + code])
