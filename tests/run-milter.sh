#!/bin/sh
# Integration tests: the real daemon on a unix socket in a temporary
# directory, driven by miltertest, plus startup checks. The scripts sit in
# one folder per daemon configuration: tests/milter/enforce, dry-run,
# internal-error-tempfail, internal-error-accept (lib.lua, rules/ and
# zone.txt are shared).
# The daemon runs as nobody, logs to stderr at debug level; scripts read
# that log. Each daemon must stop cleanly on SIGTERM (exit 0 - under the
# sanitizers a leak or an error report changes that).
# miltertest offers SMFIP_HDR_LEADSPC and the daemon takes it, so header
# values the daemon adds or changes carry the space after the colon (" v1").
# Usage: run-milter.sh BINARY
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"
chown nobody "$tmp" 2>/dev/null || true
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
failed=0
n=0

pass() { n=$((n + 1)); }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "FAIL $*"; }

# conf NAME [EXTRA LINES]: writes $tmp/NAME.conf
conf() {
	name=$1
	shift
	{
		echo "socket = unix:$tmp/$name.sock"
		echo "pidfile = $tmp/$name.pid"
		echo "rules_dir = $tmp/rules"
		echo "user = nobody"
		echo "group = nogroup"
		echo "log = stderr"
		echo "log_level = debug"
		echo "reload_check_interval = 300ms"
		echo "add_trace_header = yes"
		echo "authserv_id = mx.test.example"
		echo "dns_zone_file = $tmp/zone.txt"
		for l in "$@"; do echo "$l"; done
	} > "$tmp/$name.conf"
}

start() { # start NAME [ENV=VALUE...]
	name=$1
	shift
	: > "$tmp/$name.log"
	env "$@" "$bin" -c "$tmp/$name.conf" run -f 2> "$tmp/$name.log" &
	pid=$!
	for _ in $(seq 100); do
		[ -S "$tmp/$name.sock" ] && grep -q "starting milter-policy" "$tmp/$name.log" && return 0
		sleep 0.05
	done
	echo "daemon $name did not start:"
	cat "$tmp/$name.log"
	exit 1
}

stop() { # stop NAME: SIGTERM, then a clean exit and the stop line
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	pid=""
	if [ "$rc" -ne 0 ]; then
		fail "daemon $1 exited with $rc on SIGTERM"
		tail -50 "$tmp/$1.log"
	elif ! grep -q "stopping (reloads=" "$tmp/$1.log"; then
		fail "daemon $1 logged no stop line"
	else
		pass
	fi
	if grep -q "ERROR: \(Address\|Leak\|Undefined\)Sanitizer\|runtime error:" "$tmp/$1.log"; then
		fail "sanitizer report in the log of $1"
		grep -A30 "Sanitizer\|runtime error" "$tmp/$1.log" | head -60
	fi
}

run_scripts() { # run_scripts NAME FOLDER: every script of tests/milter/FOLDER
	for s in "$here"/milter/$2/*.lua; do
		if timeout 60 miltertest -D socket="unix:$tmp/$1.sock" -D log="$tmp/$1.log" \
			-D bin="$bin" -D conf="$tmp/$1.conf" -D rules="$tmp/rules" \
			-D lib="$here/milter/lib.lua" -D fixtures="$here/dkim/fixtures" \
			-s "$s" > "$tmp/out" 2>&1; then
			pass
		else
			fail "$(basename "$s")"
			sed 's/^/  /' "$tmp/out"
			echo "  -- daemon log (last lines):"
			tail -15 "$tmp/$1.log" | sed 's/^/  /'
		fi
	done
}

# what the daemon reads after dropping to nobody is copied here: the
# checkout itself may be unreadable to nobody (a clone under /root, 0700)
cp -r "$here/milter/rules" "$tmp/rules"
cp "$here/milter/zone.txt" "$tmp/zone.txt"

# startup refusals: exit 78 with the reason
mkdir -p "$tmp/bad"
printf 'rule "x" {\n    when nosuch == "y"\n    accept\n}\n' > "$tmp/bad/global.rules"
conf bad "rules_dir = $tmp/bad"
sed -i "/^rules_dir = $(echo "$tmp" | sed 's|/|\\/|g')\/rules$/d" "$tmp/bad.conf"
out=$("$bin" -c "$tmp/bad.conf" run -f 2>&1)
rc=$?
if [ "$rc" -eq 78 ] && printf '%s' "$out" | grep -q "bad/global.rules:2:10: unknown field 'nosuch'"; then pass; else fail "broken rules: exit $rc: $out"; fi
conf baduser "user = no-such-user-here"
sed -i '0,/^user = nobody$/{/^user = nobody$/d}' "$tmp/baduser.conf"
out=$("$bin" -c "$tmp/baduser.conf" run -f 2>&1)
rc=$?
if [ "$rc" -eq 78 ] && printf '%s' "$out" | grep -q "unknown user 'no-such-user-here'"; then pass; else fail "unknown user: exit $rc: $out"; fi
printf 'socket = tcp:25\nrules_dir = %s/rules\n' "$tmp" > "$tmp/badconf.conf"
out=$("$bin" -c "$tmp/badconf.conf" run 2>&1)
rc=$?
if [ "$rc" -eq 78 ] && printf '%s' "$out" | grep -q "badconf.conf:1:10: bad value for socket"; then pass; else fail "bad config: exit $rc: $out"; fi
printf 'socket = unix:/nonexistent-dir/a/b.sock\nrules_dir = %s/rules\nuser = nobody\ngroup = nogroup\npidfile = %s/x.pid\n' "$tmp" "$tmp" > "$tmp/badsock.conf"
out=$("$bin" -c "$tmp/badsock.conf" run -f 2>&1)
rc=$?
if [ "$rc" -eq 78 ] && printf '%s' "$out" | grep -q "cannot create /nonexistent-dir/a"; then pass; else fail "bad socket: exit $rc: $out"; fi

# the enforce daemon
conf main "add_received_spf = yes"
start main
if [ "$(stat -c '%U %G %a' "$tmp/main.sock")" = "nobody nogroup 660" ]; then pass; else fail "socket owner/mode: $(stat -c '%U %G %a' "$tmp/main.sock")"; fi
if [ "$(ps -o user= -p "$pid")" = "nobody" ]; then pass; else fail "daemon runs as $(ps -o user= -p "$pid")"; fi
out=$("$bin" -c "$tmp/main.conf" run -f 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -q "already running"; then pass; else fail "second instance: exit $rc: $out"; fi
run_scripts main enforce
stop main
# its reloads compiled the header regexes in the helper process, never here
if grep -q "debug: prefilter: compiled in a helper process: [1-9]" "$tmp/main.log" &&
   ! grep -q "compiling helper" "$tmp/main.log"; then pass; else
	fail "the prefilter was not compiled by the helper"; grep prefilter "$tmp/main.log"; fi
[ -e "$tmp/main.pid" ] && fail "pidfile left behind" || pass

# the dry-run daemon
cp -r "$here/milter/rules/." "$tmp/rules/"
conf dry "mode = dry-run"
start dry
run_scripts dry dry-run
stop dry

# internal errors, injected: tempfail (the default), then accept
conf ie
start ie MILTER_POLICY_TEST_FAIL=rcpt
run_scripts ie internal-error-tempfail
stop ie
conf ia "on_internal_error = accept"
start ia MILTER_POLICY_TEST_FAIL=eoh
run_scripts ia internal-error-accept
stop ia

# a rules directory deployed as a symbolic link swapped between releases
# (rules.d -> r1 | r2, a new link renamed over the old one, in a tight loop)
# while the daemon reloads: every rule set in force is one release - 6 or
# 9 rules, never a mix of their files
mkdir -p "$tmp/rel/r1" "$tmp/rel/r2"
for i in 1 2; do
	printf 'rule "g1" { when mail.from == "a@%s" reject }\nrule "g2" { when mail.from == "b@%s" reject }\n' $i $i > "$tmp/rel/r$i/global.rules"
	printf 'rule "a1" { when mail.from == "c@%s" reject }\n' $i > "$tmp/rel/r$i/a.example.rules"
done
printf 'rule "a2" { when mail.from == "d@1" reject }\nrule "a3" { when mail.from == "e@1" reject }\nrule "a4" { when mail.from == "f@1" reject }\n' >> "$tmp/rel/r1/a.example.rules"
printf 'rule "g3" { when mail.from == "c@2" reject }\n' >> "$tmp/rel/r2/global.rules"
printf 'rule "a2" { when mail.from == "d@2" reject }\nrule "a3" { when mail.from == "e@2" reject }\n' >> "$tmp/rel/r2/a.example.rules"
printf 'rule "b1" { when mail.from == "a@2" reject }\nrule "b2" { when mail.from == "b@2" reject }\nrule "b3" { when mail.from == "c@2" reject }\n' > "$tmp/rel/r2/b.example.rules"
ln -s r1 "$tmp/rel/rules.d"
conf swap "rules_dir = $tmp/rel/rules.d" "reload_check_interval = 0"
sed -i -e "/^rules_dir = $(echo "$tmp" | sed 's|/|\\/|g')\/rules$/d" \
	-e "/^reload_check_interval = 300ms$/d" "$tmp/swap.conf"
start swap
( cd "$tmp/rel" && while :; do
	ln -s r2 next && mv -T next rules.d
	ln -s r1 next && mv -T next rules.d
done ) 2>/dev/null &
swapper=$!
reloads=150
for i in $(seq $reloads); do
	kill -USR1 "$pid"
	for _ in $(seq 400); do
		[ "$(grep -c "reload (signal) \(done\|failed\)" "$tmp/swap.log")" -ge "$i" ] && break
		sleep 0.01
	done
done
kill "$swapper"
wait "$swapper" 2>/dev/null
sizes=$(grep -o "reload (signal) done: rules=[0-9]*" "$tmp/swap.log" | sed 's/.*rules=//' | sort | uniq -c | tr -s ' \n' ' ')
done_n=$(grep -c "reload (signal) done: rules=[69] " "$tmp/swap.log")
if [ "$done_n" -eq "$reloads" ]; then pass; else fail "symlink swap: $done_n of $reloads reloads loaded one release (rules: $sizes)"; grep "reload (signal) failed" -A3 "$tmp/swap.log" | head; fi
echo "symlink swap: $reloads reloads, rule set sizes (count size): $sizes"
stop swap

# an inet6 listener on ::1 (where the machine has IPv6 loopback)
if ip -6 addr show lo 2>/dev/null | grep -q "::1"; then
	port=$((30000 + $$ % 20000))
	conf v6 "socket = inet6:$port@::1"
	sed -i "0,/^socket = unix/{/^socket = unix/d}" "$tmp/v6.conf"
	: > "$tmp/v6.log"
	"$bin" -c "$tmp/v6.conf" run -f 2> "$tmp/v6.log" &
	pid=$!
	for _ in $(seq 100); do
		ss -ltn | grep -q "\[::1\]:$port" && break
		sleep 0.05
	done
	if ss -ltn | grep -q "\[::1\]:$port"; then pass; else fail "no inet6 listener on [::1]:$port"; cat "$tmp/v6.log"; fi
	stop v6
fi

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
