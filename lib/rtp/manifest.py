# micropython-lib style manifest of the rtp package. The files are listed: this
# manifest.py sits inside the package folder and is no module of it.
metadata(
    version="0.1.0",
    description="RTP/RTCP media session: jitter buffer, packet-loss concealment, "
    "RFC 4733 events, statistics",
)

package(
    "rtp",
    files=("__init__.py", "_fast.py", "events.py", "jitter.py", "plc.py",
           "receiver.py", "roomy.py", "rtcp.py", "session.py"),
    base_path="..",
)
