#!/bin/sh
# The manual pages: each renders with neither groff (-ww) nor man
# (--warnings) saying a word, and they cannot fall behind the code: every
# configuration key the code knows is in milter-policy.conf(5), every
# rule-language field in milter-policy.rules(5) (names from doc-names).
# Usage: man-pages.sh MANDIR DOC-NAMES-BINARY
set -u
mandir=$1
names=$2
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

for page in milter-policy.8 milter-policy.conf.5 milter-policy.rules.5; do
	f="$mandir/$page"
	[ -s "$f" ] || { fail "$page: not built"; continue; }
	out=$(groff -ww -z -man "$f" 2>&1) || fail "$page: groff exit $?"
	[ -z "$out" ] || fail "$page: groff: $out"
	out=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 > /dev/null) || fail "$page: man exit $?"
	[ -z "$out" ] || fail "$page: man: $out"
done

# the rendered text, so that a name hidden in markup does not count
conf=$(MANWIDTH=200 man -l "$mandir/milter-policy.conf.5" 2>/dev/null)
rules=$(MANWIDTH=200 man -l "$mandir/milter-policy.rules.5" 2>/dev/null)
n=0
tmp=$(mktemp)
"$names" > "$tmp" || fail "doc-names failed"
while read -r kind name; do
	n=$((n + 1))
	case $kind in
	key) printf '%s\n' "$conf" | grep -qE "(^|[^a-z_])$name( |$)" || fail "key $name is not in milter-policy.conf(5)" ;;
	field)
		# 'exists header' and 'count header' are written with their "Name"
		pat=$(printf '%s' "$name" | sed 's/\./\\./g; s/ header$/ header "Name"/')
		printf '%s\n' "$rules" | grep -qE "(^|[^a-z.])$pat([^a-z.]|$)" || fail "field $name is not in milter-policy.rules(5)"
		;;
	esac
done < "$tmp"
rm -f "$tmp"
[ "$n" -gt 50 ] || fail "only $n names from doc-names"
echo "$n names, $failed failures"
[ "$failed" -eq 0 ]
