#!/bin/sh
# Installs Debian packages (the arguments; none: nothing) in one image layer and leaves no package lists,
# apt caches, archives, docs or man pages behind in it.
set -eu
[ $# -gt 0 ] || exit 0
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
  /usr/share/doc/* /usr/share/man/*
