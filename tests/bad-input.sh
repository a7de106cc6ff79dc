#!/bin/sh
# Bad input: rule files with garbage, NUL bytes, 10 MB lines, deep nesting
# and huge lists, and hostile messages through `test`. Each must give a
# clear error (exit 1) or a defined result (exit 0) - never a crash
# (exit >= 128, or a sanitizer report) or a hang (timeout).
# Usage: bad-input.sh BINARY
set -u
bin=$1
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
n=0
# never the machine's resolver
: > "$tmp/empty.zone"
printf 'dns_zone_file = %s/empty.zone\n' "$tmp" > "$tmp/mp.conf"

# run NAME WANT-EXIT GREP-PATTERN CMD...: output must match the pattern
run() {
	name=$1 want=$2 pat=$3
	shift 3
	n=$((n + 1))
	out=$(timeout 120 "$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$want" ] || ! printf '%s' "$out" | grep -q -e "$pat"; then
		echo "FAIL $name: exit $rc (wanted $want), output:"
		printf '%s\n' "$out" | head -c 2000 | sed 's/^/  /'
		failed=$((failed + 1))
	fi
}

rules() { # rules NAME: a fresh rules directory
	mkdir -p "$tmp/$1"
	echo "$tmp/$1"
}

d=$(rules garbage)
$py -c 'import random,sys; r=random.Random(7); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(200000)))' > "$d/global.rules"
run garbage 1 "global.rules:1:" "$bin" check "$d"

d=$(rules garbage-ascii)
$py -c 'import random; r=random.Random(9); print("".join(r.choice("rule{}()\"~/!=<>and or not when 0123456789abc .,#\n") for _ in range(300000)))' > "$d/global.rules"
run garbage-ascii 1 "global.rules:" "$bin" check "$d"

d=$(rules nul)
printf 'rule "a" {\000 accept }\n' > "$d/global.rules"
run nul-byte 1 "global.rules:1:11: NUL byte in rule file" "$bin" check "$d"

d=$(rules nul-list)
printf 'list l file "l.txt"\nrule "a" { when helo in l accept }\n' > "$d/global.rules"
printf 'a.example\nb\000.example\n' > "$d/l.txt"
run nul-in-list 1 "l.txt:2:2: NUL byte in list file" "$bin" check "$d"

d=$(rules long-string)
$py -c 'print("rule \"a\" { reject 550 5.7.1 \"" + "x"*(10*1024*1024) + "\" }")' > "$d/global.rules"
run long-string-line 1 "global.rules:1:29: string longer than 65536 bytes" "$bin" check "$d"

d=$(rules long-word)
$py -c 'print("rule \"a\" { when " + "h"*(10*1024*1024) + " == \"x\" accept }")' > "$d/global.rules"
run long-word-line 1 "global.rules:1:17: word longer than 256 characters" "$bin" check "$d"

d=$(rules long-regex)
$py -c 'print("rule \"a\" { when helo ~ /" + "a"*(10*1024*1024) + "/ accept }")' > "$d/global.rules"
run long-regex-line 1 "regex longer than 65536 bytes" "$bin" check "$d"

d=$(rules long-comment)
$py -c 'print("# " + "c"*(10*1024*1024)); print("rule \"a\" { accept }")' > "$d/global.rules"
run long-comment-line 0 "1 rule," "$bin" check "$d"

d=$(rules deep-parens)
$py -c 'print("rule \"a\" { when " + "("*100000 + "tls" + ")"*100000 + " accept }")' > "$d/global.rules"
run deep-parens 1 "condition nested more than 100 levels deep" "$bin" check "$d"

d=$(rules deep-not)
$py -c 'print("rule \"a\" { when " + "not "*100000 + "tls accept }")' > "$d/global.rules"
run deep-not 1 "condition nested more than 100 levels deep" "$bin" check "$d"

d=$(rules long-chain)
$py -c 'print("rule \"a\" { when " + " or ".join("helo == \"h%d\"" % i for i in range(20000)) + " accept }")' > "$d/global.rules"
run long-or-chain 0 "1 rule," "$bin" check "$d"

d=$(rules deep-braces)
$py -c 'print("list l " + "{"*100000 + " }")' > "$d/global.rules"
run deep-braces 1 "expected a list item" "$bin" check "$d"

d=$(rules deep-includes)
for i in $(seq 0 40); do echo "include \"i$((i + 1)).inc\"" > "$d/i$i.inc"; done
echo 'rule "bottom" { accept }' > "$d/i41.inc"
echo 'include "i0.inc"' > "$d/x.example.rules"
run deep-includes 1 "includes nested more than 32 deep" "$bin" check "$d"

d=$(rules many-errors)
$py -c 'print("\n".join("rule \"r%d\" { when nosuch%d == \"x\" accept }" % (i, i) for i in range(100000)))' > "$d/global.rules"
run many-errors 1 "too many errors in this file" "$bin" check "$d"

d=$(rules huge-list)
$py -c '
import sys
w = sys.stdout.write
for i in range(500000): w("host%d.example\n" % i)
for i in range(65536): w("10.%d.%d.0/24\n" % (i // 256, i % 256))
for i in range(50000): w("2001:db8:%x::/48\n" % i)
' > "$d/big.txt"
printf 'list big file "big.txt"\nlist nets file "nets.txt"\nrule "a" { when helo in big reject 550 5.7.1 "listed" }\nrule "b" { when client.ip in nets tempfail }\n' > "$d/global.rules"
grep -v example "$d/big.txt" > "$d/nets.txt"
run huge-list-check 0 "2 lists" "$bin" check "$d"
run huge-list-match 0 '"action": "reject"' "$bin" -c "$tmp/mp.conf" --rules "$d" test --json --helo host499999.example --client-ip 198.51.100.1 --from a@b.example --rcpt c@d.example < /dev/null
run huge-list-cidr 0 '"action": "tempfail"' "$bin" -c "$tmp/mp.conf" --rules "$d" test --json --client-ip 2001:db8:c34f::1 --from a@b.example --rcpt c@d.example < /dev/null

d=$(rules many-rules)
$py -c 'print("\n".join("rule \"r%d\" { when header \"X-H%d\" ~ /v%d$/ score 1 }" % (i, i % 50, i) for i in range(10000)))' > "$d/global.rules"
run many-rules 0 "10000 rules" "$bin" check "$d"

# hostile messages through `test`: exit 0 and valid JSON
d=$(rules msg)
cat > "$d/global.rules" <<'RULES'
rule "from-count" { when header.from.count != 1 add header "X-From-Count" "${header.from.count}" }
rule "subject" { when header "Subject" ~ /x/ add header "X-Subject-Seen" "${header.from}" }
rule "body" { when body ~ /needle/ score 1 }
RULES
json_ok() { # json_ok FILE: the JSON parses and has the SPEC's keys
	$py -c '
import json, sys
o = json.load(open(sys.argv[1]))
for k in ("action", "stage", "reply", "rules", "score", "spf", "dkim", "recipients", "headers_added", "headers_removed", "subject", "quarantine"):
    assert k in o, k
print("json ok", o["action"], o["stage"])
' "$1"
}
msg() { # msg NAME PYTHON-EXPR-FOR-BYTES
	$py -c "import sys; sys.stdout.buffer.write($2)" > "$tmp/$1.eml"
	n=$((n + 1))
	if ! timeout 120 "$bin" -c "$tmp/mp.conf" --rules "$d" test --json --client-ip 198.51.100.1 --from a@b.example --rcpt c@d.example "$tmp/$1.eml" > "$tmp/$1.json" 2> "$tmp/$1.err" || ! json_ok "$tmp/$1.json" > /dev/null 2>&1; then
		echo "FAIL message $1"
		head -c 1000 "$tmp/$1.err" "$tmp/$1.json"
		failed=$((failed + 1))
	fi
}
msg nul-bytes 'b"From: a@b.example\nSubject: x\x00y\n\nbody\x00needle\n"'
msg eight-bit 'b"From: \xff\xfe <a@b.example>\nSubject: caf\xe9 x \xc3\x28\n\n\xff needle\n"'
msg invalid-2047 'b"From: =?utf-8?b?////?= <a@b.example>\nSubject: =?x-unknown?q?x?= =?utf-8?q?=FF=FE?=\n\nhi\n"'
msg many-headers 'b"".join(b"X-H%d: v\n" % i for i in range(50000)) + b"From: a@b.example\n\nbody\n"'
msg megabyte-header 'b"From: a@b.example\nSubject: x" + b"y" * (4 * 1024 * 1024) + b"\n\nbody\n"'
msg folded-forever 'b"From: a@b.example\nSubject: x" + b"\n y" * 200000 + b"\n\nbody\n"'
msg no-from 'b"Subject: x\n\nbody\n"'
msg many-from 'b"From: " + b", ".join(b"u%d@d.example" % i for i in range(10000)) + b"\nSubject: x\n\nbody\n"'
msg no-header-end 'b"From: a@b.example\nSubject: x"'
msg empty 'b""'
msg big-body 'b"From: a@b.example\n\n" + b"z" * (20 * 1024 * 1024) + b"needle\n"'
msg weird-addresses 'b"From: <<<>>>, (((, \"unterminated, @@@, a@b@c\nTo: ;;;:::\n\nhi\n"'

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
