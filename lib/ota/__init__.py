# Over-the-air updates: signed bundle checks (bundle), A/B slots with probation
# (slots), Ed25519 (ed25519), SHA-512 (sha512). Import the modules themselves:
# nothing is pulled in here, so a board that only verifies loads nothing more.
