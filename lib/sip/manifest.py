# micropython-lib style manifest of the sip package. The files are listed: this
# manifest.py sits inside the package folder and is no module of it.
metadata(
    version="0.1.0",
    description="SIP user agent over UDP: registration with digest auth, calls, SDP",
)

package(
    "sip",
    files=("__init__.py", "bytescan.py", "call.py", "dialog.py", "digest.py", "headers.py",
           "inbound.py", "indialog.py", "message.py", "refer.py", "register.py", "scan.py", "sdp.py",
           "subscribe.py", "transaction.py", "ua.py", "wire.py"),
    base_path="..",
)
