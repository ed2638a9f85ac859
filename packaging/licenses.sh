#!/bin/sh
# licenses.sh FORMAT BINARY...: the license text of the project and of every Go
# module linked into BINARY... (from `go version -m`, texts from the module cache),
# FORMAT "debian" (a machine-readable debian/copyright, DEP-5) or "plain".
set -eu
format=$1; shift
top=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
mods=$($GO version -m "$@" | awk '$1=="dep"{print $2"@"$3}' | sort -u)
indent() { sed -e 's/^[[:space:]]*$/./' -e 's/^/ /'; }
license_of() {  # the first license file of module dir $1
	for f in LICENSE LICENSE.txt LICENSE.md COPYING LICENCE; do
		[ -f "$1/$f" ] && { cat "$1/$f"; return 0; }
	done
	echo "no license file found in $1" >&2; return 1
}
if [ "$format" = debian ]; then
	cat <<'H'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: jpki-pkcs11
Source: https://github.com/jpki-pkcs11/jpki-pkcs11

Files: *
Copyright: 2026 The jpki-pkcs11 authors
License: Expat
H
	sed -n '3,$p' "$top/LICENSE" | indent
else
	cat "$top/LICENSE"
fi
for m in $mods; do
	dir=$(cd "$top" && $GO list -m -f '{{.Dir}}' "$m" 2>/dev/null) || dir=""
	[ -n "$dir" ] && [ -d "$dir" ] || { (cd "$top" && $GO mod download "$m" >/dev/null 2>&1) || true; dir=$(cd "$top" && $GO list -m -f '{{.Dir}}' "$m"); }
	text=$(license_of "$dir")
	if [ "$format" = debian ]; then
		printf '\nFiles: vendor/%s/*\nCopyright: the authors of %s (linked into the binaries)\nLicense: %s-license\n' "${m%@*}" "$m" "$(echo "${m%@*}" | tr '/.' '--')"
		printf '\nLicense: %s-license\n' "$(echo "${m%@*}" | tr '/.' '--')"
		printf '%s\n' "$text" | indent
	else
		printf '\n---------------------------------------------------------------------\n%s\n\n%s\n' "$m" "$text"
	fi
done
