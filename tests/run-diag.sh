#!/bin/sh
# Golden tests for diagnostics: for each directory under tests/diag, run
# `milter-policy check` on it (with -c when it holds milter-policy.conf) and
# compare the exit code and the output with its expected.txt.
# Usage: run-diag.sh BINARY [--update]
set -u
bin=$1
update=${2:-}
cd "$(dirname "$0")/diag" || exit 1
failed=0
n=0
for d in */; do
	d=${d%/}
	n=$((n + 1))
	if [ -f "$d/milter-policy.conf" ]; then
		out=$("$bin" -c "$d/milter-policy.conf" check 2>&1)
	else
		out=$("$bin" check "$d" 2>&1)
	fi
	rc=$?
	got=$(printf 'exit %s\n%s\n' "$rc" "$out")
	if [ "$update" = "--update" ]; then
		printf '%s\n' "$got" > "$d/expected.txt"
		continue
	fi
	if [ "$got" != "$(cat "$d/expected.txt")" ]; then
		echo "FAIL $d"
		printf '%s\n' "$got" | diff -u "$d/expected.txt" - | sed 's/^/  /'
		failed=$((failed + 1))
	fi
done
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
