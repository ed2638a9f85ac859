#!/bin/sh
# apt-ensure.sh LABEL [--no-install-recommends] PACKAGE...
# Installs the Debian packages of the list that are missing (one apt-get update first);
# does nothing when all are present. Installing needs root (CI and `make deps*` are).
set -e
label=$1; shift
opts=""
if [ "${1:-}" = --no-install-recommends ]; then opts=$1; shift; fi
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "$label: installing$missing"
if [ "$(id -u)" != 0 ]; then echo "$label: need root to install:$missing" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q $opts $missing >/dev/null
