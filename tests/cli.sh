#!/bin/sh
# The command line: exit codes, `check` on the shipped rules, `test` in
# text and JSON form (the README's examples), stdin, case-file failures.
# Usage: cli.sh BINARY
set -u
bin=$1
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
n=0

# expect NAME WANT-EXIT PATTERN CMD...
expect() {
	name=$1 want=$2 pat=$3
	shift 3
	n=$((n + 1))
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$want" ] || ! printf '%s\n' "$out" | grep -q -e "$pat"; then
		echo "FAIL $name: exit $rc (wanted $want); output:"
		printf '%s\n' "$out" | head -40 | sed 's/^/  /'
		failed=$((failed + 1))
	fi
}

# jq-like check with Python: json_expect NAME PYTHON-ASSERTIONS CMD...
json_expect() {
	name=$1 code=$2
	shift 2
	n=$((n + 1))
	if ! "$@" > "$tmp/out.json" 2> "$tmp/err"; then
		echo "FAIL $name: exit $?"; cat "$tmp/err"; failed=$((failed + 1)); return
	fi
	if ! $py -c "import json,sys; o=json.load(open(sys.argv[1])); $code" "$tmp/out.json" 2> "$tmp/err"; then
		echo "FAIL $name:"; cat "$tmp/err" "$tmp/out.json" | head -60 | sed 's/^/  /'
		failed=$((failed + 1))
	fi
}

# never the machine's resolver: DNS from a static zone, copied where the
# configured user (nobody) can read it: `check` asks, and the checkout may
# be a clone under /root (0700)
chmod 755 "$tmp"
cp "$top/tests/milter/zone.txt" "$tmp/zone.txt"
# the same for the rules `check -c` checks as nobody's
cp -r "$top/rules" "$tmp/rules"
printf 'authserv_id = mx.test.example\ndns_zone_file = %s/zone.txt\nuser = nobody\ngroup = nogroup\n' "$tmp" > "$tmp/cli.conf"
R="-c $tmp/cli.conf --rules $top/rules"
cat > "$tmp/clean.eml" <<'MSG'
From: Alice <alice@sender.example>
To: bob@example.com
Subject: lunch

Hi Bob.
MSG
cat > "$tmp/bank.eml" <<'MSG'
From: Bank <alerts@bank.example>
To: bob@example.com
Subject: Your account

Please log in.
MSG
cat > "$tmp/exe.eml" <<'MSG'
From: Alice <alice@sender.example>
To: bob@example.com
Subject: invoice
Content-Type: application/octet-stream; name="invoice.exe"

MZ
MSG

expect version 0 "^milter-policy [0-9]" "$bin" version
expect version-option 0 "^milter-policy [0-9]" "$bin" --version
expect no-command 2 "usage:" "$bin"
# usage errors name the culprit, then show that command's help
expect unknown-command 2 "unknown command 'frobnicate'" "$bin" frobnicate
expect bad-option 2 "test: unknown option '--frobnicate'" "$bin" $R test --frobnicate x
expect bad-check-option 2 "check: unknown option '--bogus'" "$bin" check --bogus
expect missing-value 2 "test: --from needs a value" "$bin" $R test --from
expect missing-value-help 2 "^usage: milter-policy .* test \[ENVELOPE\]" "$bin" $R test --client-ip
expect bad-client-ip 2 "test: --client-ip: '999.1.1.1' is not an IP address" "$bin" $R test --client-ip 999.1.1.1 --rcpt a@b.example
expect bad-client-port 2 "test: --client-port: 'x25' is not a port" "$bin" $R test --client-port x25 --rcpt a@b.example
expect run-bad-arg-named 2 "run: unknown argument '--frobnicate'" "$bin" run --frobnicate
expect case-with-json 2 "test --case: --json does not go with case files" "$bin" test --json --case "$top/tests/cases/examples/clean.case"
# help: one text per command, on stdout
expect help 0 "^  help \[COMMAND\]" "$bin" help
expect help-option 0 "^usage: milter-policy \[-c FILE\]" "$bin" --help
expect help-check 0 "^usage: milter-policy .*check \[--dump\] \[DIR\]" "$bin" help check
expect help-test-option 0 "milter-policy .*test --case FILE" "$bin" test --help
expect help-unknown 2 "help: unknown command 'nope'" "$bin" help nope
# no message argument: a message piped on stdin is read ...
out=$(printf 'From: a@b.example\nSubject: piped in\n\nhi\n' |
	"$bin" $R test --json --client-ip 203.0.113.9 --rcpt bob@example.com 2>&1)
n=$((n + 1))
if ! printf '%s\n' "$out" | grep -q '"subject": "piped in"'; then
	echo "FAIL stdin-message: the piped message was not read; output:"
	printf '%s\n' "$out" | head -20 | sed 's/^/  /'
	failed=$((failed + 1))
fi
# the README's example, as written (from the top of the tree)
out=$(cd "$top" && $py -c '
import re, sys
s = open("README.md").read()
cmd = re.search(r"```sh\n(build/milter-policy --rules rules test .*?message\.eml)\n", s, re.S).group(1)
print(cmd.replace("build/milter-policy", sys.argv[1]).replace("\\\n", " "))
' "$bin" | sh 2>&1)
n=$((n + 1))
if ! printf '%s\n' "$out" | grep -q "decision: reject at mail (rule spf-fail)" ||
   ! printf '%s\n' "$out" | grep -q "reply: 550 5.7.23 SPF check failed for sender.example"; then
	echo "FAIL readme-example: output:"
	printf '%s\n' "$out" | head -20 | sed 's/^/  /'
	failed=$((failed + 1))
fi
# the docs/test-cases.md example works from the layout it recommends
mkdir -p "$tmp/layout/rules.d/tests"
cp -r "$top/rules/." "$tmp/layout/rules.d/"
$py -c '
import sys
s = open(sys.argv[1]).read()
start = s.index("# SPF fail is refused")
sys.stdout.write(s[start:s.index("body\n```", start) + 5])
' "$top/docs/test-cases.md" > "$tmp/layout/rules.d/tests/spf.case"
expect docs-case-example 0 "1 passed, 0 failed" "$bin" test --case "$tmp/layout/rules.d/tests/spf.case"
# ... and without one, the empty message is said, never silent
expect no-message-said 0 "no message given" "$bin" $R test --rcpt bob@example.com < /dev/null
expect bad-spf 2 "expected pass, fail" "$bin" $R test --spf maybe "$tmp/clean.eml"
expect check-examples 0 "OK" "$bin" -c "$tmp/cli.conf" check "$tmp/rules"
expect check-rules-option 0 "OK" "$bin" --rules "$top/rules" check
expect check-dump 0 "mail  *spf-fail" "$bin" check --dump "$top/rules"
expect check-dump-domain 0 "^policy example.com" "$bin" check --dump "$top/rules"
expect explicit-conf-missing 1 "cannot read configuration" "$bin" -c /nonexistent/mp.conf check "$top/rules"
printf 'rules_dir = %s\nuser = nobody\ngroup = nogroup\n' "$tmp/rules" > "$tmp/good.conf"
expect conf-rules-dir 0 "OK" "$bin" -c "$tmp/good.conf" check
expect check-policies 0 "^policies: global, default, example.com$" "$bin" -c "$tmp/good.conf" check
# check says what run would refuse: an error with a configuration file
printf 'rules_dir = %s\nuser = nosuchuser-mp\ngroup = nogroup\nsocket = unix:/nonexistent-mp/deep/x.sock\n' "$top/rules" > "$tmp/refuse.conf"
expect check-run-user 1 "refuse.conf: error: \`run\` would refuse to start: unknown user 'nosuchuser-mp' (the user setting)" "$bin" -c "$tmp/refuse.conf" check
expect check-run-socket 1 "/nonexistent-mp does not exist, and the daemon creates only the last directory of /nonexistent-mp/deep/x.sock" "$bin" -c "$tmp/refuse.conf" check
# ... and warns about files nothing reads and rules that can never decide
mkdir -p "$tmp/warn"
cp -r "$top/rules/." "$tmp/warn/"
echo 'rule "x" { accept }' > "$tmp/warn/corp.example.rule"
printf 'version 1\nrule "all" { accept }\nrule "later" { when helo == "x" reject }\n' > "$tmp/warn/dead.example.rules"
expect check-ignored-file 0 "corp.example.rule: warning: ignored" "$bin" -c "$tmp/good.conf" check "$tmp/warn"
expect check-dead-rule 0 "dead.example.rules:3:1: warning: rule 'later' can never decide: rule 'all'" "$bin" -c "$tmp/good.conf" check "$tmp/warn"
# ... and, as root, whether the daemon's user can read what it opens as
# that user: the rules (loaded as the user at start too) and the zone file
# are errors (run would refuse), the configuration (read as root at start,
# as the user at each reload) a warning; run says which user could not
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 700 "$tmp/private"
	cp -r "$top/rules" "$tmp/private/rules"
	cp "$top/tests/milter/zone.txt" "$tmp/private/zone.txt"
	printf 'rules_dir = %s/private/rules\ndns_zone_file = %s/private/zone.txt\nuser = nobody\ngroup = nogroup\nsocket = unix:%s/private/mp.sock\npidfile = %s/private/mp.pid\n' "$tmp" "$tmp" "$tmp" "$tmp" > "$tmp/private.conf"
	refuse="private.conf: error: \`run\` would refuse to start: cannot read"
	expect check-user-zone 1 "$refuse the DNS zone file $tmp/private/zone.txt as user nobody: Permission denied" "$bin" -c "$tmp/private.conf" check
	expect check-user-rules-dir 1 "$refuse the rules directory $tmp/private/rules as user nobody: Permission denied" "$bin" -c "$tmp/private.conf" check
	expect check-user-rules 1 "$refuse $tmp/private/rules/global.rules as user nobody: Permission denied" "$bin" -c "$tmp/private.conf" check
	expect check-user-list 1 "$refuse $tmp/private/rules/lists/trusted-nets.txt as user nobody" "$bin" -c "$tmp/private.conf" check
	expect run-user-rules 78 "$tmp/private/rules: cannot read rules directory as user nobody: Permission denied" "$bin" -c "$tmp/private.conf" run -f
	# the rules readable, the zone not: run stops there, and says who tried
	chmod 755 "$tmp/private"
	chmod 600 "$tmp/private/zone.txt"
	expect run-user-zone 78 "milter-policy: $tmp/private/zone.txt: cannot read DNS zone file as user nobody: Permission denied" "$bin" -c "$tmp/private.conf" run -f
	chmod 644 "$tmp/private/zone.txt"
	# only the configuration unreadable: a warning, check passes
	mkdir -m 700 "$tmp/private2"
	cp "$tmp/private.conf" "$tmp/private2/mp.conf"
	expect check-user-conf 0 "mp.conf: warning: cannot read the configuration $tmp/private2/mp.conf as user nobody: Permission denied (read again at every reload: reloads would fail)" "$bin" -c "$tmp/private2/mp.conf" check
	# everything readable by nobody: not a word
	n=$((n + 1))
	if ! out=$("$bin" -c "$tmp/private.conf" check 2>&1) || printf '%s' "$out" | grep -q "as user nobody"; then
		echo "FAIL check-user-readable: $out"; failed=$((failed + 1))
	fi
	# not a daemon's configuration: no user to ask about
	chmod 700 "$tmp/private"
	n=$((n + 1))
	if "$bin" check "$tmp/private/rules" 2>&1 | grep -q "as user"; then
		echo "FAIL check-user-no-conf: warned without a configuration"; failed=$((failed + 1))
	fi
fi
printf 'rules_dir = %s\nbogus = 1\n' "$top/rules" > "$tmp/bad.conf"
expect conf-error 1 "bad.conf:2:1: unknown key 'bogus'" "$bin" -c "$tmp/bad.conf" check
expect conf-error-test 1 "unknown key" "$bin" -c "$tmp/bad.conf" test --rcpt a@b.example
expect no-rcpt 2 "no recipient" "$bin" $R test --from a@b.example
expect message-missing 1 "No such file" "$bin" $R test --rcpt a@b.example /nonexistent.eml
expect dns-zone-missing 1 "z.txt: cannot read DNS zone file" "$bin" $R test --dns-zone z.txt "$tmp/clean.eml"
expect run-bad-arg 2 "run: unknown argument" "$bin" run --frobnicate
expect state-bad 2 "test: --state: expected memory, lmdb:PATH" "$bin" $R test --state mysql://x --rcpt a@b.example "$tmp/clean.eml"
# a real store is read, never written: the account's count stays at this message
for i in 1 2; do
	expect "state-lmdb-read-only-$i" 0 "  false account-flood" "$bin" $R test --state "lmdb:$tmp/state.lmdb" --client-ip 198.51.100.7 --from alice@sender.example --auth alice --rcpt bob@example.com "$tmp/clean.eml"
done
expect state-lmdb-unopenable 1 "test: --state: /nonexistent/dir/s.lmdb" "$bin" $R test --state lmdb:/nonexistent/dir/s.lmdb --rcpt a@b.example "$tmp/clean.eml"

# human-readable trace
expect text-reject-mail 0 "decision: reject at mail (rule spf-fail)" "$bin" $R test --client-ip 198.51.100.7 --from alice@sender.example --rcpt bob@example.com --spf fail "$tmp/clean.eml"
expect text-reply 0 "reply: 550 5.7.23 SPF check failed for sender.example" "$bin" $R test --client-ip 198.51.100.7 --from alice@sender.example --rcpt bob@example.com --spf fail "$tmp/clean.eml"
expect text-trace 0 "  true  spf-fail" "$bin" $R test --client-ip 198.51.100.7 --from alice@sender.example --rcpt bob@example.com --spf fail "$tmp/clean.eml"
expect text-tag 0 "change header: Subject: \[SUSPECT\] Your account" "$bin" $R test --client-ip 198.51.100.7 --from alerts@bank.example --rcpt bob@example.com "$tmp/bank.eml"
expect stdin 0 "decision: reject at eom" sh -c "\"$bin\" $R test --client-ip 198.51.100.7 --rcpt bob@example.com - < \"$tmp/exe.eml\""
# defaults from the message: From: and To:
expect envelope-from-message 0 "<bob@example.com> accept (policy example.com)" "$bin" $R test --client-ip 198.51.100.7 "$tmp/clean.eml"

# JSON: the SPEC's fields, and envelope-only rejects report mail or rcpt
json_expect json-spf-fail '
assert o["action"] == "reject", o
assert o["stage"] == "mail", o
assert o["reply"] == {"code": "550", "xcode": "5.7.23", "text": "SPF check failed for sender.example"}, o["reply"]
assert o["rules"] == ["spf-fail"], o["rules"]
assert o["spf"] == "fail" and o["dkim"] == "none"
assert o["score"] == 0 and o["quarantine"] is None
assert o["recipients"] == [] and o["headers_added"] == [] and o["headers_removed"] == []
' "$bin" $R test --json --client-ip 198.51.100.7 --from alice@sender.example --rcpt bob@example.com --spf fail "$tmp/clean.eml"
json_expect json-closed-mailbox '
assert o["action"] == "reject" and o["stage"] == "rcpt", o
assert o["reply"]["code"] == "550" and o["reply"]["xcode"] == "5.1.1"
r = o["recipients"]
assert r[0]["address"] == "old-sales@example.com" and r[0]["action"] == "reject", r
assert r[0]["reply"].startswith("550 5.1.1 Mailbox closed"), r
' "$bin" $R test --json --client-ip 198.51.100.7 --from alice@sender.example --rcpt old-sales@example.com --spf pass "$tmp/clean.eml"
json_expect json-partial-recipients '
assert o["action"] == "accept" and o["stage"] == "eom", o
acts = {r["address"]: r["action"] for r in o["recipients"]}
assert acts == {"old-sales@example.com": "reject", "bob@example.com": "accept", "x@elsewhere.example": "defer-split"}, acts
' "$bin" $R test --json --client-ip 198.51.100.7 --from alice@sender.example --rcpt old-sales@example.com --rcpt bob@example.com --rcpt x@elsewhere.example --spf pass "$tmp/clean.eml"
json_expect json-bank '
assert o["action"] == "accept" and o["stage"] == "eom"
assert o["subject"] == "[SUSPECT] Your account", o["subject"]
assert {"name": "X-Policy-Warning", "value": "unsigned mail claiming bank.example"} in o["headers_added"]
assert {"name": "X-Spam-Flag", "value": "YES"} in o["headers_added"]
assert o["score"] == 6 and o["rules"] == ["unsigned-bank"]
' "$bin" $R test --json --client-ip 198.51.100.7 --from alerts@bank.example --rcpt bob@example.com "$tmp/bank.eml"
json_expect json-bank-signed '
assert o["subject"] == "Your account" and o["dkim"] == "pass", o
assert [h["name"] for h in o["headers_added"]] == ["Authentication-Results"], o["headers_added"]
assert o["headers_added"][0]["value"] == "mx.test.example;\n\tspf=pass smtp.mailfrom=alerts@bank.example;\n\tdkim=pass header.d=bank.example header.s=injected;\n\tdmarc=pass (p=reject dis=none) header.from=bank.example", o
assert o["dmarc"] == {"result": "pass", "policy": "reject", "domain": "bank.example"}, o["dmarc"]
' "$bin" $R test --json --client-ip 198.51.100.7 --from alerts@bank.example --rcpt bob@example.com --dkim pass "$tmp/bank.eml"
json_expect json-exe '
assert o["action"] == "reject" and o["stage"] == "eom", o
assert o["reply"]["text"] == "Executable attachments are not accepted"
' "$bin" $R test --json --client-ip 198.51.100.7 --from alice@sender.example --rcpt bob@example.com "$tmp/exe.eml"
json_expect json-connect '
assert o["action"] == "accept" and o["stage"] == "connect" and o["rules"] == ["trusted-relays"], o
' "$bin" $R test --json --client-ip 192.0.2.25 --from alice@sender.example --rcpt bob@example.com --spf fail "$tmp/clean.eml"

# the trace: envelope defaults, score contributions, the deciding threshold
mkdir -p "$tmp/scored"
cat > "$tmp/scored/global.rules" <<'RULES'
rule "from-x" { when mail.from.domain == "x.example" score 4 }
rule "win" { when header "Subject" ~ /win/ score 3.5 }
rule "probation" dry-run { when header "Subject" ~ /win/ score 10 }
rule "lose" { when header "Subject" ~ /lose/ score -1 }
threshold 5 { add header "X-Spam" "yes" }
threshold 7 { reject "scored as spam" }
threshold 20 { discard }
RULES
printf 'From: a@x.example\nTo: b@y.example\nSubject: win\n\nhi\n' > "$tmp/win.eml"
S="--rules $tmp/scored"
expect trace-default-client 0 "^  client 127.0.0.1 \[localhost\] port 25 (default: a local client" "$bin" $S test "$tmp/win.eml"
expect trace-default-helo 0 "^  helo localhost (default)$" "$bin" $S test "$tmp/win.eml"
expect trace-default-from 0 "^  from <a@x.example> (from the message's From:" "$bin" $S test "$tmp/win.eml"
expect trace-default-rcpt 0 "^  rcpt <b@y.example> (from the message's To:/Cc:" "$bin" $S test "$tmp/win.eml"
expect trace-given-client 0 "^  client 192.0.2.1 \[mx.x.example\] port 2525$" "$bin" $S test --client-ip 192.0.2.1 --client-name mx.x.example --client-port 2525 "$tmp/win.eml"
expect trace-given-from 0 "^  from <other@x.example>$" "$bin" $S test --from other@x.example --rcpt b@y.example "$tmp/win.eml"
expect trace-score 0 "^  true  from-x .*\[global\] score +4$" "$bin" $S test --client-ip 192.0.2.1 "$tmp/win.eml"
expect trace-score-frac 0 "^  true  win .*\[policy global\] score +3.5$" "$bin" $S test --client-ip 192.0.2.1 "$tmp/win.eml"
expect trace-dry-run 0 "^  true  probation .*\[policy global\] dry-run$" "$bin" $S test --client-ip 192.0.2.1 "$tmp/win.eml"
expect trace-threshold-crossed 0 "^  true  threshold 5 .*score 7.5 >= 5$" "$bin" $S test --client-ip 192.0.2.1 "$tmp/win.eml"
expect trace-threshold-decides 0 "^  true  threshold 7 .*score 7.5 >= 7, decides$" "$bin" $S test --client-ip 192.0.2.1 "$tmp/win.eml"
expect trace-threshold-not 0 "^  false threshold 20 .*score 7.5 < 20$" "$bin" $S test --client-ip 192.0.2.1 "$tmp/win.eml"
expect trace-decision-threshold 0 "^decision: reject at eom (threshold 7, score 7.5)$" "$bin" $S test --client-ip 192.0.2.1 "$tmp/win.eml"
expect trace-rcpt-not-reached 0 "^  rcpt <bob@example.com> (not reached)$" "$bin" $R test --client-ip 198.51.100.7 --from alice@sender.example --rcpt bob@example.com --spf fail "$tmp/clean.eml"
expect trace-rule-decides 0 "^  true  spf-fail .*\[global\] decides$" "$bin" $R test --client-ip 198.51.100.7 --from alice@sender.example --rcpt bob@example.com --spf fail "$tmp/clean.eml"
expect bad-client-port-zero 2 "test: --client-port: '0' is not a port" "$bin" $R test --client-port 0 --rcpt a@b.example

# JSON: a version, one decision shape for the message and each recipient,
# the deciding rule or threshold, the trace and the envelope
json_expect json-shape-threshold '
assert o["version"] == 1, o.get("version")
d = o["decision"]
assert d == {"action": "reject", "stage": "eom", "rule": None, "threshold": 7, "reply": {"code": "550", "xcode": "5.7.1", "text": "scored as spam"}, "quarantine": None, "decided": True}, d
assert o["threshold"] == 7 and o["rule"] is None and o["reply"] == d["reply"]
t = [(e["stage"], e["rule"], e["threshold"], e["value"], e["score"], e["dry_run"], e["decided"]) for e in o["trace"]]
assert ("mail", "from-x", None, True, 4, False, False) in t, t
assert ("header", "probation", None, True, 0, True, False) in t, t
assert ("eom", None, 5, True, 7.5, False, False) in t, t
assert ("eom", None, 7, True, 7.5, False, True) in t, t
assert ("eom", None, 20, False, 7.5, False, False) in t, t
e = o["envelope"]
assert e["client_ip"] == "192.0.2.1" and e["from"] == "a@x.example" and e["rcpt"] == ["b@y.example"], e
assert e["defaults"] == ["client_name", "client_port", "helo", "from", "rcpt"], e["defaults"]
' "$bin" $S test --json --client-ip 192.0.2.1 "$tmp/win.eml"
json_expect json-shape-recipients '
keys = set(o["decision"])
for r in o["recipients"]:
    assert set(r["decision"]) == keys, (r["decision"], keys)
by = {r["address"]: r for r in o["recipients"]}
d = by["old-sales@example.com"]["decision"]
assert d["action"] == "reject" and d["stage"] == "rcpt" and d["rule"] == "closed-mailbox" and d["threshold"] is None, d
assert d["reply"]["code"] == "550" and d["reply"]["xcode"] == "5.1.1", d
assert by["old-sales@example.com"]["reply"] == "550 5.1.1 " + d["reply"]["text"]
a = by["bob@example.com"]
assert a["decision"]["action"] == "accept" and a["decision"]["reply"] is None and a["reply"] is None and a["would"] is None, a
assert o["decision"]["action"] == "accept" and o["decision"]["rule"] is None and o["decision"]["decided"] is False, o["decision"]
assert o["envelope"]["defaults"] == ["client_name", "client_port", "helo"], o["envelope"]
' "$bin" $R test --json --client-ip 198.51.100.7 --from alice@sender.example --rcpt old-sales@example.com --rcpt bob@example.com --spf pass "$tmp/clean.eml"
{ cat "$tmp/cli.conf"; printf 'mode = dry-run\n'; } > "$tmp/dry.conf"
json_expect json-shape-dry-run '
keys = set(o["decision"])
r = o["recipients"][0]
assert r["action"] == "accept" and r["reply"] is None and r["decision"]["action"] == "accept", r
w = r["would"]
assert set(w) == keys and w["action"] == "reject" and w["rule"] == "closed-mailbox" and w["reply"]["xcode"] == "5.1.1", w
assert set(o["would_decision"]) == keys, o["would_decision"]
' "$bin" -c "$tmp/dry.conf" --rules "$top/rules" test --json --client-ip 198.51.100.7 --from alice@sender.example --rcpt old-sales@example.com --spf pass "$tmp/clean.eml"

# test shows what the daemon would do: the changes in order (the trace
# header from the configuration) and the log lines
{ cat "$tmp/cli.conf"; printf 'add_trace_header = yes\n'; } > "$tmp/trace.conf"
T="-c $tmp/trace.conf --rules $top/rules"
expect edits-trace-header 0 "^add header: X-Policy-Trace: rules=unsigned-bank; action=accept; stage=eom; score=6$" "$bin" $T test --client-ip 198.51.100.7 --from alerts@bank.example --rcpt bob@example.com "$tmp/bank.eml"
expect edits-subject 0 "^change header: Subject: \[SUSPECT\] Your account$" "$bin" $T test --client-ip 198.51.100.7 --from alerts@bank.example --rcpt bob@example.com "$tmp/bank.eml"
expect log-line-summary 0 "^log line: id=test client=198.51.100.7 helo=localhost from=<alerts@bank.example> rcpt=<bob@example.com> policy=example.com spf=pass dkim=none dmarc=pass rules=unsigned-bank action=accept stage=eom rule=- score=6 ms=0$" "$bin" $T test --client-ip 198.51.100.7 --from alerts@bank.example --rcpt bob@example.com "$tmp/bank.eml"
expect log-line-rcpt 0 "^log line: id=Q1 rcpt=<old-sales@example.com> action=reject stage=rcpt rule=closed-mailbox reply=\"550 5.1.1 Mailbox closed" "$bin" $R test --queue-id Q1 --client-ip 198.51.100.7 --from alice@sender.example --rcpt old-sales@example.com --rcpt bob@example.com --spf pass "$tmp/clean.eml"
json_expect json-edits '
kinds = [(e["kind"], e["name"]) for e in o["edits"]]
assert kinds[0] == ("header_insert", "Authentication-Results"), kinds
assert ("header_change", "Subject") in kinds and kinds[-1] == ("header_add", "X-Policy-Trace"), kinds
assert o["log_lines"][-1].startswith("id=test client=198.51.100.7 ") and " rule=- score=6 ms=0" in o["log_lines"][-1], o["log_lines"]
' "$bin" $T test --json --client-ip 198.51.100.7 --from alerts@bank.example --rcpt bob@example.com "$tmp/bank.eml"

# case files: a failing case is reported and fails the run
mkdir -p "$tmp/cases"
cat > "$tmp/cases/wrong.case" <<CASE
rules: $top/rules
client-ip: 198.51.100.7
mail-from: alice@sender.example
rcpt-to: bob@example.com
spf: fail
expect-action: accept
expect-stage: eom
expect-header: X-Nothing: *
---
From: a@sender.example

x
CASE
cat > "$tmp/cases/bad-key.case" <<CASE
rules: $top/rules
expect-actoin: accept
---
CASE
cat > "$tmp/cases/right.case" <<CASE
rules: $top/rules
client-ip: 198.51.100.7
mail-from: alice@sender.example
rcpt-to: bob@example.com
spf: fail
expect-action: reject
expect-stage: mail
---
CASE
expect case-fails 1 "expect-action: wanted accept, got reject" "$bin" test --case "$tmp/cases/wrong.case"
expect case-fails-stage 1 "expect-stage: wanted eom, got mail" "$bin" test --case "$tmp/cases/wrong.case"
expect case-fails-header 1 "expect-header: X-Nothing: \*: no such field" "$bin" test --case "$tmp/cases/wrong.case"
expect case-bad-key 1 "bad-key.case:2: unknown key 'expect-actoin'" "$bin" test --case "$tmp/cases/bad-key.case"
expect case-summary 1 "^1 passed, 2 failed$" "$bin" test --case "$tmp/cases/wrong.case" "$tmp/cases/bad-key.case" "$tmp/cases/right.case"
expect case-pass 0 "^1 passed, 0 failed$" "$bin" test --case "$tmp/cases/right.case"
expect case-none 2 "no case files" "$bin" test --case

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
