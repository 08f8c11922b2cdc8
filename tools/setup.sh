#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine: system packages
# (only when missing) and the pinned Python virtual environment in .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS="socat kamailio kamailio-extra-modules baresip-core sip-tester tcpdump tshark espeak-ng sox libspandsp-dev minimodem valgrind"

missing=""
for p in $DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

STUBS_VERSION=1.29.0.post1
stamp=.venv/.requirements
if [ ! -x .venv/bin/python ] || ! cmp -s requirements.txt "$stamp"; then
    echo "setup: creating .venv with pinned packages"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip==24.3.1
    .venv/bin/pip install -q -r requirements.txt
    cp requirements.txt "$stamp"
fi
.venv/bin/pip install -q --no-deps -e .

# The official MicroPython stubs, one folder per port (their machine.pyi differ),
# for type-checking board code with pyright (`make check`).
for port in esp32 rp2; do
    dir=.venv/stubs/$port
    if [ ! -f "$dir/.installed-$STUBS_VERSION" ]; then
        rm -rf "$dir"
        .venv/bin/pip install -q --target "$dir" "micropython-$port-stubs==$STUBS_VERSION"
        touch "$dir/.installed-$STUBS_VERSION"
    fi
done
