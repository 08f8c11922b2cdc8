# SIP user agent over UDP for the ATA: registration, calls, SDP (see docs/sip.md).
from sip.ua import UserAgent  # noqa: F401
