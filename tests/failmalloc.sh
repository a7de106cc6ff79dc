#!/bin/sh
# Allocation failure injection over the rule-case suite: with every Nth
# allocation made by milter-policy's own code failing (tests/failmalloc.c,
# LD_PRELOAD), `test --case` must never crash, and a case that does not
# pass must say it ran out of memory - never report another verdict as if
# nothing had happened (the daemon turns the same -1 into on_internal_error,
# which tests/milter covers). Exit 2 (the command refused to start) is
# fine. Plain build only: ASan has its own allocator.
# Every N from 3 to 450 is tried (a sample of a few N once let a silently
# wrong verdict through: each case makes a few hundred allocations, so only
# a dense range puts a failure at each of them), then a few sparse ones.
# Usage: failmalloc.sh BINARY SHIM [N...]
set -u
bin=$1
shim=$2
shift 2
if [ $# -gt 0 ]; then
	set -- "$@"
else
	# shellcheck disable=SC2046
	set -- $(seq 3 450) 1000 2000 5000
fi
cd "$(dirname "$0")/cases" || exit 1
files=$(find . -name '*.case' | sort)
failed=0
n=0
for every in "$@"; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	out=$(MP_FAILMALLOC=$every LD_PRELOAD=$shim timeout 300 "$bin" test --case $files 2>&1)
	rc=$?
	if [ "$rc" -ge 3 ]; then
		echo "FAIL every $every: exit $rc"
		printf '%s\n' "$out" | tail -5 | sed 's/^/  /'
		failed=$((failed + 1))
		continue
	fi
	# a case that fails must say that memory ran out (or that its rules
	# did not load: nothing was judged); a wrong verdict alone is a bug
	bad=$(printf '%s\n' "$out" | awk '
		function flush() { if (name != "" && !oom) print name ": " first; name = "" }
		/^FAIL / { flush(); name = $2; oom = 0; first = ""; next }
		/^  / && name != "" {
			if ($0 ~ /out of memory|did not load|Cannot allocate memory/) oom = 1
			else if (first == "") first = $0
			next }
		{ flush() }
		END { flush() }')
	if [ -n "$bad" ]; then
		echo "FAIL every $every: a case gave another verdict under allocation failure:"
		printf '%s\n' "$bad" | head -10 | sed 's/^/  /'
		failed=$((failed + 1))
	fi
done
echo "$((n - failed)) of $n allocation-failure runs passed, $failed failed"
[ "$failed" -eq 0 ]
