#!/bin/sh
# Runs every rule case under tests/cases through `milter-policy test --case`
# and fails unless all pass. Usage: run-cases.sh BINARY
set -u
bin=$1
cd "$(dirname "$0")/cases" || exit 1
files=$(find . -name '*.case' | sort)
count=$(printf '%s\n' "$files" | wc -l)
# shellcheck disable=SC2086
out=$("$bin" test --case $files)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] && printf '%s\n' "$out" | tail -1 | grep -qx "$count passed, 0 failed"
