#!/bin/sh
# Installs the Debian packages the build, the tests and the demo need; does nothing
# when they are all present. Run as root (CI and `make deps` do).
set -e
PKGS="gcc make pkg-config libpcsclite-dev pcscd vsmartcard-vpcd pcsc-tools opensc libnss3-tools poppler-utils
gnutls-bin p11-kit libp11-kit-dev libengine-pkcs11-openssl openssl iproute2 time python3 procps util-linux
openjdk-17-jdk-headless openssh-client openssh-server p11-kit-modules firefox-esr gdb file binutils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then echo "deps: need root to install:$missing" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q $missing >/dev/null
