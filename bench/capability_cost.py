#!/usr/bin/python3
"""bench/capability-cost: what each capability costs per message when it is
on and its rules are absent, and when its rules are there (SPEC §9: at most
0.05 ms per message when absent).

Timing a difference of 0.05 ms through Postfix is below this machine's
noise (a configuration moves by 0.1-0.3 ms of CPU from round to round), so
this counts instead, which repeats exactly: the daemon runs under valgrind
(callgrind) and is driven by bench/milter-client, which speaks the milter
protocol as Postfix does (one message per connection here, as Postfix's
sessions in bench/mta; one connection after another, so that no lock
contends and the counts repeat). Only what runs inside libmilter's session loop
(`mi_engine`: every callback, the engine, SPF, DKIM, DMARC, the state
store, the counting for the metrics) is counted, so the load and the idle
threads are not; each configuration is run with M1 and M2 messages and the
difference divided by M2 - M1, so whatever happens once (the first DNS
answer, the first connection to the store) drops out. System calls per
message come from `strace -f -c` of the daemon run natively, the same way.

Instructions are turned into time at the rate the daemon runs here: the
base configuration run natively (no valgrind) for MN messages, its user
CPU time per message over its instructions per message.

Configurations (all: 100 header rules + an SPF and a DKIM rule, no rule
reading dmarc.*, attachment.*, text or rate(), unless said):
  base          dmarc = no, state = memory, no metrics listener
  dmarc         dmarc = yes: evaluated for Authentication-Results (it has
                no rules of its own to be absent from: its cost is its job)
  metrics       metrics_listen on (not scraped)
  state-lmdb    state = lmdb:FILE, no rate() or greylist rule
  state-redis   state = redis+unix:SOCKET (a redis-server started here),
                no rate() or greylist rule
  mime-rules    the attachment rules of bench/engine -M added: MIME's cost
                when its rules are there
  rate-memory, rate-lmdb, rate-redis
                the three rate() rules of bench/engine -R added, over each
                store: the stores' cost when their rules are there
MIME has no switch: when no rule reads a MIME field the body is not kept
and no MIME code runs, which the count shows (`mime_fn`: instructions
inside functions whose name has `mime`, `magic_` or `g_mime`, per message).

Usage: capability_cost.py BUILD_DIR [M1 M2 MN]   (defaults 20 100 3000)
"""
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1])
M1, M2, MN = (int(a) for a in (sys.argv[2:5] if len(sys.argv) >= 5 else ("20", "100", "3000")))
BIN = os.path.join(BUILD, "milter-policy")
CLIENT = os.path.join(BUILD, "milter-client")
ENGINE = os.path.join(BUILD, "bench", "engine")
KEYS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "dkim", "keys")
NOBODY = pwd.getpwnam("nobody")
TMP = tempfile.mkdtemp(prefix="mp-capcost-")
os.chmod(TMP, 0o755)
os.chown(TMP, NOBODY.pw_uid, NOBODY.pw_gid)
LIMIT_MS = 0.05


def path(*p):
    return os.path.join(TMP, *p)


CONFIGS = [
    ("base", "rules100", "dmarc = no\n"),
    ("dmarc", "rules100", ""),
    ("metrics", "rules100", "dmarc = no\nmetrics_listen = 127.0.0.1:%d\n" % (30000 + os.getpid() % 20000)),
    ("state-lmdb", "rules100", "dmarc = no\nstate = lmdb:%s\n" % path("state-lmdb.mdb")),
    ("state-redis", "rules100", "dmarc = no\nstate = redis+unix:%s\n" % path("redis.sock")),
    ("mime-rules", "rules100-mime", "dmarc = no\n"),
    ("rate-memory", "rules100-rate", "dmarc = no\n"),
    ("rate-lmdb", "rules100-rate", "dmarc = no\nstate = lmdb:%s\n" % path("rate-lmdb.mdb")),
    ("rate-redis", "rules100-rate", "dmarc = no\nstate = redis+unix:%s\n" % path("redis.sock")),
]
ABSENT = ("dmarc", "metrics", "state-lmdb", "state-redis")
MIME_FN = re.compile(r"mime|magic_|archive_")


def as_nobody(argv):
    return ["setpriv", "--reuid=%d" % NOBODY.pw_uid, "--regid=%d" % NOBODY.pw_gid, "--clear-groups"] + argv


def write_conf(name, rules, extra):
    d = path(name)
    os.makedirs(d, exist_ok=True)
    os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)
    conf = path(name + ".conf")
    with open(conf, "w") as f:
        f.write("socket = unix:%s/mp.sock\nsocket_mode = 0666\npidfile = %s/mp.pid\nuser = nobody\n"
                "group = nogroup\nrules_dir = %s\ndns_zone_file = %s\nauthserv_id = mx.bench.example\n"
                "log = stderr\nlog_level = warn\nreload_check_interval = 0\n%s"
                % (d, d, path("rules", rules), path("zone.txt"), extra))
    return d, conf


def run_daemon(name, rules, extra, messages, wrap, client=None):
    """Starts the daemon (as nobody, under WRAP), sends MESSAGES messages,
    one per connection, one connection after another (or runs CLIENT(socket)
    instead), stops it; returns its directory and the CPU it used while the
    client ran."""
    d, conf = write_conf(name, rules, extra)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    sock = os.path.join(d, "mp.sock")
    log = open(path(name + ".log"), "a")
    p = subprocess.Popen(as_nobody(wrap(d) + [BIN, "-c", conf, "run", "-f"]), stderr=log)
    deadline = time.monotonic() + 300
    while not os.path.exists(sock):
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("%s did not start: see %s" % (name, path(name + ".log")))
        time.sleep(0.1)
    with open(os.path.join(d, "mp.pid")) as f:
        pid = int(f.read())
    cpu0 = proc_cpu(pid)
    if client:
        client(sock)
    for _ in range(0 if client else messages):  # one connection after another: nothing contends
        drive(name, sock, ["-n", "1", "-c", "1"])
    cpu1 = proc_cpu(pid)
    cpu = (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1])
    os.kill(pid, signal.SIGTERM)
    p.wait(timeout=300)
    log.close()
    return d, cpu


def drive(name, sock, args):
    out = subprocess.run([CLIENT, "-s", "unix:" + sock] + args, check=True, capture_output=True,
                         text=True).stdout
    if "refused=0 errors=0" not in out:
        raise RuntimeError("%s: %s" % (name, out))


def signed_message():
    """bench/mta's message (about 5 KiB, DKIM-signed by bank.example) into a file."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mta import message
    with open(path("signed.eml"), "wb") as f:
        f.write(message())


def floor(sessions):
    """CPU per message of the do-nothing libmilter milter and of mp-100's job
    (the signed message: SPF, DKIM, DMARC, 100 rules, A-R), natively, a
    connection per message, SESSIONS at once, nothing else on the cores."""
    args = ["-r", "-m", path("signed.eml"), "-c", str(sessions), "-n", str(MN)]
    d = path("null")
    os.makedirs(d, exist_ok=True)
    os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)
    sock = os.path.join(d, "null.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(as_nobody([os.path.join(BUILD, "null-milter"), "unix:" + sock]),
                         stderr=subprocess.DEVNULL)
    while not os.path.exists(sock):
        time.sleep(0.05)
    c0 = proc_cpu(p.pid)
    drive("null-milter", sock, args)
    c1 = proc_cpu(p.pid)
    p.terminate()
    p.wait()
    null = (c1[0] - c0[0] + c1[1] - c0[1]) / MN * 1e3
    _, (u, sy) = run_daemon("mp-100", "rules100", "", MN, lambda d: [],
                            lambda sock: drive("mp-100", sock, args))
    return null, (u + sy) / MN * 1e3


def proc_cpu(pid):
    """utime and stime (seconds) of PID, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def callgrind(name, rules, extra, messages):
    """Instructions inside mi_engine, in all, and in MIME code."""
    d, _ = run_daemon(name, rules, extra, messages,
                      lambda d: ["valgrind", "--tool=callgrind", "--toggle-collect=mi_engine",
                                 "--callgrind-out-file=%s/cg.out" % d])
    ann = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no",
                          os.path.join(d, "cg.out")], check=True, capture_output=True, text=True).stdout
    total = mime = 0
    names = set()
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in m.group(2):
            total = n
        elif MIME_FN.search(m.group(2).split(" [")[0]):
            mime += n
            names.add(m.group(2).split(" [")[0])
    if names and messages == M1:
        print("  %s: MIME code run: %s" % (name, ", ".join(sorted(n.split(":")[-1] for n in names))))
    return total, mime


def syscalls(name, rules, extra, messages):
    d, _ = run_daemon(name, rules, extra, messages,
                      lambda d: ["strace", "-f", "-c", "-o", os.path.join(d, "strace.out")])
    with open(os.path.join(d, "strace.out")) as f:
        for line in f:
            if line.strip().endswith("total"):
                return int(line.split()[3])  # % time, seconds, usecs/call, calls
    raise RuntimeError("%s: no strace total" % name)


def main():
    subprocess.run([ENGINE, "-w", path("rules"), "-s", "100", "-H", "-m", "-M", "-R"], check=True,
                   capture_output=True)
    with open(path("zone.txt"), "w") as f:
        with open(os.path.join(KEYS, "rsa2048.dns")) as k:
            key = k.read().strip()
        f.write('sender.example TXT "v=spf1 ip4:198.51.100.0/24 -all"\n'
                '_dmarc.sender.example TXT "v=DMARC1; p=reject"\n'
                '_dmarc.bank.example TXT "v=DMARC1; p=reject"\n'
                's2048._domainkey.bank.example TXT %s\n'
                % " ".join('"%s"' % key[i:i + 250] for i in range(0, len(key), 250)))
    signed_message()
    redis = subprocess.Popen(as_nobody(["redis-server", "--port", "0", "--unixsocket", path("redis.sock"),
                                        "--unixsocketperm", "777", "--save", "", "--appendonly", "no"]),
                             stdout=subprocess.DEVNULL)
    try:
        while not os.path.exists(path("redis.sock")):
            time.sleep(0.05)
        res = {}
        for name, rules, extra in CONFIGS:
            t1, m1 = callgrind(name, rules, extra, M1)
            t2, m2 = callgrind(name, rules, extra, M2)
            s1 = syscalls(name, rules, extra, M1)
            s2 = syscalls(name, rules, extra, M2)
            res[name] = ((t2 - t1) / (M2 - M1), (m2 - m1) / (M2 - M1), (s2 - s1) / (M2 - M1))
            print("%-12s %10.0f instructions/msg  %8.0f in MIME code  %6.1f system calls/msg"
                  % ((name,) + res[name]), flush=True)
        # the rate: base natively, user CPU per message over instructions per message
        _, (u, sy) = run_daemon("base", "rules100", "dmarc = no\n", MN, lambda d: [],
                                lambda sock: drive("base", sock, ["-r", "-c", "1", "-n", str(MN)]))
        ns_per_ins = u / MN * 1e9 / res["base"][0]
        sys_ms = sy / MN * 1e3 / res["base"][2]
        floors = [(c,) + floor(c) for c in (1, 10)]
    finally:
        redis.terminate()
        redis.wait()
    print("\nbase natively (%d messages): %.3f ms user + %.3f ms system CPU per message; "
          "%.3f ns per instruction, %.4f ms per system call"
          % (MN, u / MN * 1e3, sy / MN * 1e3, ns_per_ins, sys_ms))
    b_ins, _, b_sys = res["base"]
    print("\n%-12s %14s %12s %12s %10s" % ("config", "+instr/msg", "+syscalls", "+ms/msg", "absent?"))
    for name, _, _ in CONFIGS[1:]:
        ins, _, sc = res[name]
        ms = (ins - b_ins) * ns_per_ins / 1e6 + max(sc - b_sys, 0) * sys_ms
        verdict = ("<= %.2f ms: %s" % (LIMIT_MS, "met" if ms <= LIMIT_MS else "NO")) if name in ABSENT else "(rules there)"
        print("%-12s %14.0f %12.1f %12.4f   %s" % (name, ins - b_ins, sc - b_sys, ms, verdict))
    print("MIME code per message with no MIME rule (base): %.0f instructions" % res["base"][1])
    print("\nwithout Postfix on the cores (bench/milter-client, a connection per message, the "
          "DKIM-signed message of bench/mta, %d messages), milter CPU ms per message:" % MN)
    for c, null, mp in floors:
        print("  %2d session%s: null-milter %.3f   mp-100 (SPF, DKIM, DMARC, 100 rules, A-R) %.3f   "
              "mp-100 <= 0.45 ms: %s" % (c, "s" if c > 1 else " ", null, mp, "met" if mp <= 0.45 else "NO"))
    shutil.rmtree(TMP)


main()
