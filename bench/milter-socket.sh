#!/bin/sh
# Socket benchmark: milter-policy (example rules) behind a unix socket, an
# inet socket (TCP_NODELAY, the default) and an inet socket with Nagle left
# on (MP_BENCH_NAGLE=1, to show what TCP_NODELAY saves), next to a
# do-nothing libmilter milter on both sockets (the floor). Driven by
# bench/milter-client, which writes like Postfix. Every configuration runs
# ROUNDS times, alternating, with 1 session (latency) and 10 sessions
# (throughput), plus a few messages from a client that writes every packet
# on its own as Sendmail does (-w); the summary gives medians.
# Usage: bench/milter-socket.sh [BUILD_DIR] [ROUNDS] [MESSAGES]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
rounds=${2:-5}
n=${3:-3000}
client=$build/milter-client
tmp=$(mktemp -d)
chmod 755 "$tmp"
chown nobody "$tmp" # the daemon, as nobody, removes its pidfile at exit
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
port=$((20000 + $$ % 20000))
start() { # start CONFIG SOCKET
	cat > "$tmp/mp.conf" <<CONF
socket = $2
pidfile = $tmp/mp.pid
rules_dir = $top/rules
user = nobody
group = nogroup
log = stderr
log_level = warn
reload_check_interval = 0
CONF
	case $1 in
	null-*) "$build/null-milter" "$2" 2>> "$tmp/daemon.log" & ;;
	*) env $([ "$1" = inet-nagle ] && echo MP_BENCH_NAGLE=1) \
		"$build/milter-policy" -c "$tmp/mp.conf" run -f 2>> "$tmp/daemon.log" & ;;
	esac
	pid=$!
	for _ in $(seq 50); do
		"$client" -s "$2" -n 1 -c 1 > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$1 did not start on $2" >&2
	cat "$tmp/daemon.log" >&2
	exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; sleep 0.2; }

: > "$tmp/results"
for r in $(seq "$rounds"); do
	for cfg in null-unix null-inet unix inet inet-nagle; do
		case $cfg in
		*unix) sock="unix:$tmp/s.sock" ;;
		*) sock="inet:$port@127.0.0.1" ;;
		esac
		start "$cfg" "$sock"
		for c in 1 10; do
			m=$n
			[ "$c" -eq 1 ] && m=$((n / 5))
			echo "round=$r config=$cfg $("$client" -s "$sock" -n "$m" -c "$c")" | tee -a "$tmp/results"
		done
		# an MTA writing each packet on its own (as Sendmail does)
		if [ "$cfg" = unix ] || [ "$cfg" = inet ]; then
			echo "round=$r config=$cfg-w $("$client" -w -s "$sock" -n 20 -c 1)" | tee -a "$tmp/results"
		fi
		stop
	done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "medians over $rounds alternating rounds:"
printf '  %-11s %14s %18s %18s\n' config "msg/s (10 ses)" "msg/s (1 session)" "mean ms (1 ses)"
for cfg in null-unix null-inet unix inet inet-nagle unix-w inet-w; do
	t10=$(grep "config=$cfg " "$tmp/results" | grep "sessions=10 " | sed 's/.*msg_per_s=\([0-9]*\).*/\1/' | median)
	t1=$(grep "config=$cfg " "$tmp/results" | grep "sessions=1 " | sed 's/.*msg_per_s=\([0-9]*\).*/\1/' | median)
	l1=$(grep "config=$cfg " "$tmp/results" | grep "sessions=1 " | sed 's/.*latency_ms_mean=\([0-9.]*\).*/\1/' | median)
	printf '  %-11s %14s %18s %18s\n' "$cfg" "$t10" "$t1" "$l1"
done
