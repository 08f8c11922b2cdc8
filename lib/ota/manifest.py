# micropython-lib style manifest of the ota package. The files are listed: this
# manifest.py sits inside the package folder and is no module of it.
metadata(
    version="0.1.0",
    description="Signed OTA bundles: streaming check of an Ed25519-signed manifest and "
    "SHA-256 payload; Ed25519 (RFC 8032) and SHA-512 in MicroPython",
)

package(
    "ota",
    files=("__init__.py", "agent.py", "bundle.py", "ed25519.py", "fetch.py", "filepart.py",
           "firmware.py", "romslot.py", "sha512.py", "slots.py"),
    base_path="..",
)
