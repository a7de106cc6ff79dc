#!/bin/sh
# DNS through a real unbound server on loopback (dns_servers): SPF results,
# a `.test` name, a SERVFAIL zone, many threads through the cache, and a
# dead server (temperror within dns_timeout plus a margin, no hung thread);
# then `milter-policy test` reaching the same server, for SPF and for the
# DKIM key of a signed message.
# Usage: run-unbound.sh BINARY DNS-LIVE
set -u
bin=$1
live=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
chmod 755 "$tmp"
upid=""
cleanup() { [ -n "$upid" ] && kill "$upid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
failed=0
n=0
pass() { n=$((n + 1)); }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "FAIL $*"; }

if ! command -v unbound > /dev/null; then
	echo "unbound is not installed" >&2
	exit 1
fi
port=$((40000 + $$ % 20000))
dead=$((port + 1)) # nothing listens there
# one TXT record of three strings, about 480 bytes in all (each string <= 255)
long1=$(printf 'ip4:192.0.2.%d ' $(seq 1 15))
long2=$(printf 'ip4:192.0.2.%d ' $(seq 16 30))
# the DKIM key of the signed fixtures, as DNS strings of at most 250 bytes
key=$here/dkim/keys/rsa2048.dns
dkim_key="\"$(cut -c1-250 "$key")\" \"$(cut -c251- "$key")\""
cat > "$tmp/unbound.conf" <<CONF
server:
    interface: 127.0.0.1
    port: $port
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "$tmp"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    local-zone: "." static
    local-data: 'pass.example. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"'
    local-data: 'soft.example. 300 IN TXT "v=spf1 ~all"'
    local-data: 'inc.example. 300 IN TXT "v=spf1 include:pass.example -all"'
    local-data: 'mx.example. 300 IN TXT "v=spf1 mx -all"'
    local-data: 'mx.example. 300 IN MX 10 mail.mx.example.'
    local-data: 'mail.mx.example. 300 IN A 198.51.100.7'
    local-data: 'two.example. 300 IN TXT "v=spf1 -all"'
    local-data: 'two.example. 300 IN TXT "v=spf1 +all"'
    local-data: 'v6.example. 300 IN TXT "v=spf1 ip6:2001:db8::/32 -all"'
    local-data: 'long.example. 300 IN TXT "v=spf1 $long1" "$long2" "ip4:198.51.100.7 -all"'
    local-data: 'inctemp.example. 300 IN TXT "v=spf1 include:broken.example -all"'
    local-data: 'spf.test. 300 IN TXT "v=spf1 ip4:198.51.100.7 -all"'
    local-data: 's2048._domainkey.bank.example. 300 IN TXT $dkim_key'
    local-data: 'bank.example. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"'
    local-zone: "broken.example." transparent
    local-data: 'sender.example. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"'
forward-zone:
    name: "broken.example."
    forward-addr: 127.0.0.1@$dead
CONF
unbound -c "$tmp/unbound.conf" > "$tmp/unbound.log" 2>&1 &
upid=$!
for _ in $(seq 50); do
	ss -lun 2>/dev/null | grep -q "127.0.0.1:$port " && break
	sleep 0.1
done

out=$("$live" spf "127.0.0.1@$port" 2>&1)
if [ $? -eq 0 ]; then pass; else fail "SPF through unbound:"; printf '%s\n' "$out" | sed 's/^/  /'; cat "$tmp/unbound.log"; fi

out=$("$live" threads "127.0.0.1@$port" 2>&1)
if [ $? -eq 0 ]; then pass; echo "  $out"; else fail "threads: $out"; fi

out=$(timeout 30 "$live" dead "127.0.0.1@$dead" 1000 2>&1)
rc=$?
if [ "$rc" -eq 0 ]; then pass; echo "  dead server: $out"; else fail "dead server (exit $rc): $out"; fi

# the command line and the daemon, through dns_servers
mkdir -p "$tmp/rules"
printf 'rule "spf-fail" { when spf == fail reject 550 5.7.23 "SPF fail" }\n' > "$tmp/rules/global.rules"
printf 'rules_dir = %s/rules\ndns_servers = 127.0.0.1@%s\ndns_timeout = 2s\nauthserv_id = mx.test.example\n' "$tmp" "$port" > "$tmp/test.conf"
printf 'From: a@pass.example\nSubject: x\n\nbody\n' > "$tmp/m.eml"
out=$("$bin" -c "$tmp/test.conf" test --json --client-ip 203.0.113.9 --from a@pass.example --rcpt b@x.example "$tmp/m.eml")
if printf '%s' "$out" | grep -q '"stage": "mail"' && printf '%s' "$out" | grep -q '"spf": "fail"'; then pass; else fail "test through unbound: $out"; fi
out=$("$bin" -c "$tmp/test.conf" test --json --client-ip 198.51.100.7 --from a@spf.test --rcpt b@x.example "$tmp/m.eml")
if printf '%s' "$out" | grep -q 'spf=pass smtp.mailfrom=a@spf.test'; then pass; else fail ".test name through unbound: $out"; fi

# DKIM: a message signed by python3-dkim, its key from unbound
out=$("$bin" -c "$tmp/test.conf" test --json --client-ip 198.51.100.7 --from alerts@bank.example --rcpt b@x.example "$here/dkim/fixtures/bank-aligned.eml")
if printf '%s' "$out" | grep -q 'dkim=pass header.d=bank.example header.s=s2048' &&
	printf '%s' "$out" | grep -q '"dkim": "pass"'; then pass; else fail "DKIM key through unbound: $out"; fi

echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
