#!/bin/sh
# Installs what `make windows` and `make test-windows` need on Debian 12, on top of
# scripts/deps.sh: mingw-w64 (cross C compiler and binutils for the DLL), Wine 8 (64-bit,
# with winebuild from wine64-tools to mark the bridge DLL as a Wine builtin), and gawk
# (the acceptance check parses objdump output with \s, which mawk lacks). Does nothing
# when all are present. Run as root (CI and `make deps-windows` do).
set -e
PKGS="gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine wine64 wine64-tools libpcsclite-dev gawk"
exec sh "$(dirname "$0")/apt-ensure.sh" deps-windows --no-install-recommends $PKGS
