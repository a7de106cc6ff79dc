#!/bin/sh
# The regex prefilter and the value index must not change a single decision:
# bench/engine's generated rule sets (envelope tests, lists, header regexes,
# scores) run over its generated messages with them on and off, and the
# digests of every message's outcome, stage, score, matched rules and added
# headers must be equal. Usage: prefilter-equivalence.sh ENGINE-BENCH
set -u
bench=$1
on=$("$bench" -n 400 -c 400 -s 100,1000) || { echo "bench/engine failed: $on"; exit 1; }
off=$(MP_PREFILTER=0 "$bench" -n 400 -c 400 -s 100,1000) || { echo "bench/engine failed: $off"; exit 1; }
printf '%s\n%s\n' "$on" "$off"
d_on=$(printf '%s\n' "$on" | grep -o 'digest [0-9a-f]*')
d_off=$(printf '%s\n' "$off" | grep -o 'digest [0-9a-f]*')
[ "$(printf '%s\n' "$d_on" | wc -l)" -eq 2 ] || { echo "expected two digests"; exit 1; }
if [ "$d_on" != "$d_off" ]; then
	echo "FAIL: the prefilter changed decisions"
	exit 1
fi
# a run where nothing matched would prove little
printf '%s\n' "$on" | grep -q ' 0.00 rules matched' && { echo "FAIL: nothing matched"; exit 1; }
echo "same decisions with and without the prefilter"
