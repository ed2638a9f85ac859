#!/bin/sh
# stage.sh LAYOUT ROOT: lays out the installed files of the jpki-pkcs11 package under
# ROOT for LAYOUT "deb" (Debian multiarch: /usr/lib/x86_64-linux-gnu/pkcs11) or "rpm"
# (/usr/lib64/pkcs11), from what `make` built in build/. make deb and make rpm hand
# ROOT to their packaging tool; nothing here is installed on this machine.
#   module       LIBDIR/pkcs11/jpki-pkcs11.so, and jpki-pkcs11-auth.so beside it (the
#                authentication-only entry point: a C loader of jpki-pkcs11.so, so one
#                process never holds two copies of the Go runtime)
#   p11-kit      /usr/share/p11-kit/modules/jpki-pkcs11.module (the plain module only:
#                p11-kit-proxy must not load the -auth name beside it)
#   programs     /usr/bin/jpki, /usr/bin/jpki-vcard
#   documents    /usr/share/doc/jpki-pkcs11/ (README, docs, license of the project and of
#                the Go modules linked into the binaries)
#   manual pages /usr/share/man/man1/jpki.1.gz, jpki-vcard.1.gz, man7/jpki-pkcs11.7.gz
#                (docs/man/, version and library folder filled in)
set -eu
layout=$1 root=$2
case $layout in
deb) libdir=/usr/lib/x86_64-linux-gnu doc=/usr/share/doc/jpki-pkcs11 ;;
rpm) libdir=/usr/lib64 doc=/usr/share/doc/jpki-pkcs11 ;;
*) echo "stage.sh: layout deb or rpm, not $layout" >&2; exit 2 ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
b=$top/build
rm -rf "$root"
install -d -m 0755 "$root$libdir/pkcs11" "$root/usr/share/p11-kit/modules" "$root/usr/bin" "$root$doc"
install -m 0644 "$b/jpki-pkcs11.so" "$root$libdir/pkcs11/jpki-pkcs11.so"
install -m 0644 "$b/jpki-pkcs11-auth.so" "$root$libdir/pkcs11/jpki-pkcs11-auth.so"
sed "s|@MODULE@|$libdir/pkcs11/jpki-pkcs11.so|" "$top/packaging/jpki-pkcs11.module" \
	>"$root/usr/share/p11-kit/modules/jpki-pkcs11.module"
chmod 0644 "$root/usr/share/p11-kit/modules/jpki-pkcs11.module"
install -m 0755 "$b/jpki" "$b/jpki-vcard" "$root/usr/bin/"
version=$(cat "$top/internal/version/VERSION")
install -d -m 0755 "$root/usr/share/man/man1" "$root/usr/share/man/man7"
for page in jpki.1 jpki-vcard.1 jpki-pkcs11.7; do
	sed -e "s|@VERSION@|$version|g" -e "s|@LIBDIR@|$libdir|g" "$top/docs/man/$page" |
		gzip -9n >"$root/usr/share/man/man${page##*.}/$page.gz"
	chmod 0644 "$root/usr/share/man/man${page##*.}/$page.gz"
done
# Documentation: compressed as Debian policy 12.3 asks (and rpm users do not mind).
for f in README.md docs/CLI.md docs/CLIENTS-USER.md docs/ONE-PIN.md docs/TLS13.md docs/ROBUSTNESS.md; do
	gzip -9n <"$top/$f" >"$root$doc/$(basename "$f").gz"
done
chmod 0644 "$root$doc"/*.gz
if [ "$layout" = deb ]; then
	gzip -9n <"$top/packaging/deb/changelog" >"$root$doc/changelog.Debian.gz"
	sh "$top/packaging/licenses.sh" debian "$b/jpki-pkcs11.so" "$b/jpki" "$b/jpki-vcard" >"$root$doc/copyright"
else
	install -m 0644 "$top/LICENSE" "$root$doc/LICENSE"
	sh "$top/packaging/licenses.sh" plain "$b/jpki-pkcs11.so" "$b/jpki" "$b/jpki-vcard" >"$root$doc/THIRD-PARTY-LICENSES"
fi
chmod 0644 "$root$doc"/*
