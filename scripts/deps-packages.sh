#!/bin/sh
# Installs what `make deb`, `make rpm`, `make msi` and their tests (test/install) need on
# Debian 12: dpkg-dev (dpkg-shlibdeps), lintian, man-db (man, for the manual pages' check), rpm (rpmbuild) and rpm2cpio, msitools and wixl (the
# MSI). Does nothing when all are present. Run as root (CI and `make test` are).
set -e
exec sh "$(dirname "$0")/apt-ensure.sh" deps-packages dpkg-dev lintian man-db rpm rpm2cpio cpio msitools wixl
