#!/bin/sh
# Installs what `make windows` and `make test-windows` need on Debian 12, on top of
# scripts/deps.sh: mingw-w64 (cross C compiler and binutils for the DLL), Wine 8 (64-bit,
# with winebuild from wine64-tools to mark the bridge DLL as a Wine builtin), and gawk
# (the acceptance check parses objdump output with \s, which mawk lacks). Does nothing
# when all are present. Run as root (CI and `make deps-windows` do).
set -e
PKGS="gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine wine64 wine64-tools libpcsclite-dev gawk"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps-windows: installing$missing"
if [ "$(id -u)" != 0 ]; then echo "deps-windows: need root to install:$missing" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
