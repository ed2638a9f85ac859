#!/bin/sh
# Installs the Debian packages the build, the tests and the demo need; does nothing
# when they are all present. Run as root (CI and `make deps` do).
set -e
PKGS="gcc make pkg-config libpcsclite-dev pcscd vsmartcard-vpcd pcsc-tools opensc libnss3-tools poppler-utils
gnutls-bin p11-kit libp11-kit-dev libengine-pkcs11-openssl openssl iproute2 time python3 procps util-linux
openjdk-17-jdk-headless openssh-client openssh-server p11-kit-modules firefox-esr gdb file binutils
libreoffice-writer-nogui python3-uno xmlsec1"
exec sh "$(dirname "$0")/apt-ensure.sh" deps $PKGS
