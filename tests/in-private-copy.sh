#!/bin/sh
# Runs a test script from a copy of the checkout (tests/, rules/, docs/,
# examples/, the README) under a directory only its owner can enter - the
# layout of a clone under /root (mode 0700) - so a test that hands the
# daemon's user (nobody) a path inside the checkout fails here, whatever
# the mode of the checkout it was started from. .ci/run covers the other layout: the whole suite
# from a clone that is itself a `mktemp -d` directory.
# Usage: in-private-copy.sh SCRIPT ARGS... (SCRIPT relative to tests/)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
script=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"
mkdir "$tmp/checkout"
cp -r "$src/tests" "$src/rules" "$src/docs" "$src/examples" "$src/README.md" "$tmp/checkout/"
# the copy is as private as the layout says, whatever umask made it
[ "$(stat -c %a "$tmp")" = 700 ] || { echo "in-private-copy: $tmp is not 0700"; exit 1; }
"$tmp/checkout/tests/$script" "$@"
