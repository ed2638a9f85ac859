#!/bin/sh
# build.sh VERSION OUT.rpm: the rpm of what `make` built, with rpmbuild -bb from
# packaging/rpm/jpki-pkcs11.spec over files staged by packaging/stage.sh (rpm layout:
# /usr/lib64/pkcs11/).
set -eu
version=$1 out=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$top/build/pkg/rpm
rm -rf "$work"; mkdir -p "$work/top"
sh "$top/packaging/stage.sh" rpm "$work/root"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$work/root/usr/bin/jpki" "$work/root/usr/bin/jpki-vcard"
rpmbuild -bb --quiet --target x86_64 \
	--define "_topdir $work/top" --define "pkg_version $version" --define "stage_root $work/root" \
	--define "_build_id_links none" \
	"$top/packaging/rpm/jpki-pkcs11.spec" >"$work/rpmbuild.log" 2>&1 || { cat "$work/rpmbuild.log" >&2; exit 1; }
cp "$work/top/RPMS/x86_64/jpki-pkcs11-$version-1.x86_64.rpm" "$out"
echo "$out"
