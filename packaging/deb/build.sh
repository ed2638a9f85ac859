#!/bin/sh
# build.sh VERSION OUT.deb: the Debian package of what `make` built, with Debian's own
# dpkg-deb (files owned by root, md5sums, dependencies from dpkg-shlibdeps).
# The package's version is VERSION-1 (upstream version, Debian revision 1); the
# revision must match the top entry of packaging/deb/changelog.
set -eu
version=$1 out=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$top/build/pkg/deb
rm -rf "$work"; mkdir -p "$work"
root=$work/root
sh "$top/packaging/stage.sh" deb "$root"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/jpki" "$root/usr/bin/jpki-vcard"
top_entry=$(sed -n '1s/^jpki-pkcs11 (\([^)]*\)).*/\1/p' "$top/packaging/deb/changelog")
[ "$top_entry" = "$version-1" ] || { echo "packaging/deb/changelog starts with $top_entry, not $version-1: add an entry" >&2; exit 1; }
# dpkg-shlibdeps wants a source tree with debian/control naming the package.
mkdir -p "$work/src/debian"
printf 'Source: jpki-pkcs11\n\nPackage: jpki-pkcs11\nArchitecture: amd64\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e"$root/usr/lib/x86_64-linux-gnu/pkcs11/jpki-pkcs11.so" \
	-e"$root/usr/bin/jpki" -e"$root/usr/bin/jpki-vcard" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version-1|" -e "s|@SIZE@|$size|" -e "s|@SHLIBS@|$shlibs|" \
	"$top/packaging/deb/control.in" >"$root/DEBIAN/control"
(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
