# RTP media for one call: session (RTP/RTCP, RFC 4733), jitter buffer and PLC.
from rtp.jitter import AUDIO, LOST, EMPTY  # noqa: F401
from rtp.session import RtpSession, EVENT_CHARS, LATCH_PACKETS  # noqa: F401
