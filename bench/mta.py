#!/usr/bin/python3
"""bench/mta: smtp-source -> a private Postfix (unix-socket milters) ->
smtp-sink, run by bench/mta inside a network namespace of its own where the
loopback interface also carries 192.0.2.10: Postfix listens there, so the
client address is 192.0.2.10 and SPF is really checked (a loopback client
is not). unbound serves the SPF record and the DKIM key; the message is
signed by bank.example with python3-dkim (tests/dkim/keys).

Configurations, each run ROUNDS times, alternating, in one invocation:
  no-milter       Postfix alone (the reference of every ratio)
  null-milter     a libmilter milter that does nothing (the floor)
  mp-100          milter-policy, 100 header-regex rules + SPF + DKIM + DMARC
  mp-100-nodmarc  the same with dmarc = no: the difference is DMARC's cost
  mp-100-baseline mp-100 run by another build of milter-policy, the binary
                  MP_BENCH_BASELINE names (not in the default set): a change
                  measured before and after in one run
  mp-100-nokeycache
                  mp-100 with the decoded DKIM key cache off
                  (MP_BENCH_NO_KEY_CACHE=1; not in the default set): the
                  difference is what the cache saves
  mp-1000         milter-policy, 1,000 mixed rules + SPF + DKIM + DMARC
  mp-10000        the same with 10,000 rules (not in the default set)
  mp-1000-arenas  mp-1000 with glibc's default malloc arenas (16 on two
                  cores) instead of the daemon's one per core (not in the
                  default set): the memory and the CPU of the difference
  opendkim        Debian's OpenDKIM verifying (keys from TestDNSData)
  header-checks   Postfix header_checks (pcre), the same 100 regexes, no milter
  mp-100-mime     mp-100 with attachment rules added (bench/engine -M): the
                  body is parsed as MIME; the difference is MIME's cost
  mp-100-metrics  mp-100 with metrics_listen on, scraped every second
                  during its runs: the difference is the metrics' cost
  mp-100-rate-memory, mp-100-rate-lmdb, mp-100-rate-redis
                  mp-100 with three rate() rules added (bench/engine -R: a
                  count at connect, at RCPT and at the end of the header),
                  over state = memory, an lmdb file, and a redis-server on
                  loopback: the differences are the stores' costs
  rspamd          rspamd 3.4 (Debian's package, unpacked into a private root,
                  never installed: it needs libhyperscan5, which conflicts with
                  our libvectorscan5) in milter mode doing the same job as
                  mp-100: SPF, DKIM, the same 100 header regexes as regexp
                  symbols, Authentication-Results (milter_headers), every
                  other module off; CPU and memory (Pss) summed over its
                  processes
  mime-rss        not a round: 100 sessions each sending one message with a
                  20 MB attachment to a fresh milter-policy with the MIME
                  rules, its peak RSS and the spool files it left (none)
For each: msg/s at 10 sessions, the ratio to no-milter in the same round,
the milter's CPU time per message (/proc), its peak RSS, and the time per
message of one session (smtp-source -s 1), as added latency against
no-milter. Then milter-policy with 1,000 rules at 100 sessions, for its
peak RSS. It reports figures; it fails only when something does not work.
Usage: mta.py BUILD_DIR [ROUNDS] [MESSAGES] [RESULTS.json]
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from postfix import Postfix  # noqa: E402
from testbed import KEYS, Testbed, wait_for  # noqa: E402

ADDR = "192.0.2.10"
CONFIGS = os.environ.get("MTA_CONFIGS", "no-milter,null-milter,mp-100,mp-100-nodmarc,mp-100-mime,"
                         "mp-100-metrics,mp-100-rate-memory,mp-100-rate-lmdb,mp-100-rate-redis,mp-1000,"
                         "opendkim,header-checks,mime-rss").split(",")
MIME_RSS = "mime-rss" in CONFIGS
CONFIGS = [c for c in CONFIGS if c != "mime-rss"]
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime + stime


def tree_cpu_seconds(pid):
    """CPU of pid and its descendants (rspamd's workers)."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            total += cpu_seconds(p)
        except OSError:
            pass  # gone since it was listed
    return total


def peak_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


RSPAMD_DEBS = os.environ.get("MP_BENCH_DEBS", "/var/cache/milter-policy-bench")
# the rspamd plugins that do the same job as mp-100; every other one is off
RSPAMD_KEEP = {"spf", "milter_headers"}


def rspamd_root():
    """Debian's rspamd and libhyperscan5 unpacked (dpkg -x) into a private
    root, downloaded once into RSPAMD_DEBS."""
    root = os.path.join(RSPAMD_DEBS, "root")
    if os.path.exists(os.path.join(root, "usr", "bin", "rspamd")):
        return root
    os.makedirs(RSPAMD_DEBS, exist_ok=True)
    subprocess.run(["chown", "_apt", RSPAMD_DEBS], check=False)
    for pkg in ("rspamd", "libhyperscan5"):
        if not [f for f in os.listdir(RSPAMD_DEBS) if f.startswith(pkg + "_")]:
            subprocess.run(["apt-get", "download", "-qq", pkg], cwd=RSPAMD_DEBS, check=True)
    for f in os.listdir(RSPAMD_DEBS):
        if f.endswith(".deb"):
            subprocess.run(["dpkg", "-x", os.path.join(RSPAMD_DEBS, f), root], check=True)
    return root


def header_regexps(pcre_file):
    """Postfix header_checks lines (/^Name:.*RE/flags ACTION) as rspamd
    regexp symbols: (name, header, re, flags)."""
    out = []
    import re
    with open(pcre_file) as f:
        for i, line in enumerate(f):
            m = re.match(r"^/\^([A-Za-z0-9-]+):\.\*(.*)/([a-z]*) ", line)
            if m:
                out.append(("BENCH_%d" % i, m.group(1), m.group(2), m.group(3)))
    return out


def tree_pids(pid):
    """pid and its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def pss_mib(pid):
    """Proportional memory of pid and its descendants."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def target_table(results, summary, rss100):
    """SPEC §9's targets that this run measured, and whether each is met
    (ratios per round, then the median, as above)."""
    def per_round(a, b):
        out = []
        for x in results.get(a, []):
            y = [r for r in results.get(b, []) if r["round"] == x["round"]]
            if y:
                out.append(x["msgs_per_s"] / y[0]["msgs_per_s"])
        return statistics.median(out) if out else None
    rows = []

    def row(what, got, ok, fmt="%.2f"):
        if got is not None:
            rows.append((what, fmt % got, "yes" if ok(got) else "NO"))
    mp = summary.get("mp-100")
    if mp:
        row("mp-100 milter CPU <= 0.45 ms/msg", mp["cpu_ms_per_msg"], lambda v: v <= 0.45, "%.3f ms")
        row("mp-100 added latency <= 0.8 ms (1 session)", mp["added_latency_ms"], lambda v: v <= 0.8,
            "%.2f ms")
    row("mp-100 throughput >= 1.15x rspamd", per_round("mp-100", "rspamd"), lambda v: v >= 1.15, "%.2fx")
    row("null-milter (libmilter's floor) / rspamd, for reference", per_round("null-milter", "rspamd"),
        lambda v: v >= 1.15, "%.2fx")
    row("mp-1000 >= 0.95x mp-100", per_round("mp-1000", "mp-100"), lambda v: v >= 0.95, "%.2fx")
    row("mp-10000 >= 0.85x mp-100", per_round("mp-10000", "mp-100"), lambda v: v >= 0.85, "%.2fx")
    m1000 = summary.get("mp-1000")
    if m1000 and m1000.get("peak_rss_mib"):
        row("mp-1000 peak RSS <= 32 MiB at 10 sessions", m1000["peak_rss_mib"], lambda v: v <= 32,
            "%.1f MiB")
    if rss100 == rss100:
        row("mp-1000 peak RSS <= 64 MiB at 100 sessions", rss100, lambda v: v <= 64, "%.1f MiB")
    print("\ntargets (SPEC §9) this run measured; milter-regex is not in Debian, so not here:")
    for what, got, ok in rows:
        print("  %-58s %12s  met: %s" % (what, got, ok))
    return rows


def message():
    """About 5 KiB, signed by bank.example (which SPF lets send from ADDR)."""
    import dkim
    body = b"".join(b"Line %d of the statement: nothing of note happened today, once again.\r\n" % i
                    for i in range(60))
    head = (b"From: Bank <alerts@bank.example>\r\n"
            b"To: bob@example.com\r\n"
            b"Subject: Your monthly statement\r\n"
            b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <stmt-bench@bank.example>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n"
            b"X-Mailer: bench 1.0\r\n")
    msg = head + b"\r\n" + body
    with open(os.path.join(KEYS, "rsa2048.pem"), "rb") as f:
        key = f.read()
    return dkim.sign(msg, b"s2048", b"bank.example", key,
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + msg


class Bench:
    def __init__(self, build, n):
        self.build = build
        self.n = n
        self.tb = Testbed(os.path.join(build, "milter-policy"), "bench")
        self.milters = {}  # name -> (socket, Popen)

    def start(self):
        tb = self.tb
        tb.start_dns([("bank.example", "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"'),
                      ("_dmarc.bank.example", "TXT", '"v=DMARC1; p=reject"')])
        tb.start_sink(store=False)
        rules = tb.path("rules")
        subprocess.run([os.path.join(self.build, "bench", "engine"), "-w", rules, "-s", "100", "-H", "-m",
                        "-M", "-R"], check=True)
        subprocess.run([os.path.join(self.build, "bench", "engine"), "-w", rules, "-s",
                        "1000,10000" if "mp-10000" in CONFIGS else "1000", "-m"], check=True)
        self.rules = rules
        # only what MTA_CONFIGS asks for (OpenDKIM is a bench dependency)
        if "null-milter" in CONFIGS:
            self.start_null()
            tb.socket = self.milters["null-milter"][0]  # for Postfix's stock milter lines
        if "mp-100" in CONFIGS:
            self.start_policy("mp-100", os.path.join(rules, "rules100"))
        if "mp-100-baseline" in CONFIGS:
            # another build of milter-policy (MP_BENCH_BASELINE): before and
            # after a change in one run
            self.start_policy("mp-100-baseline", os.path.join(rules, "rules100"),
                              binary=os.environ["MP_BENCH_BASELINE"])
        if "mp-100-nokeycache" in CONFIGS:
            self.start_policy("mp-100-nokeycache", os.path.join(rules, "rules100"),
                              env={"MP_BENCH_NO_KEY_CACHE": "1"})
        if "mp-100-nodmarc" in CONFIGS:
            self.start_policy("mp-100-nodmarc", os.path.join(rules, "rules100"), "dmarc = no\n")
        if "mp-100-mime" in CONFIGS:
            self.start_policy("mp-100-mime", os.path.join(rules, "rules100-mime"))
        if "mp-100-metrics" in CONFIGS:
            from testbed import free_port
            self.metrics_port = free_port()
            self.start_policy("mp-100-metrics", os.path.join(rules, "rules100"),
                              "metrics_listen = 127.0.0.1:%d\n" % self.metrics_port)
        if "mp-100-rate-memory" in CONFIGS:
            self.start_policy("mp-100-rate-memory", os.path.join(rules, "rules100-rate"), "state = memory\n")
        if "mp-100-rate-lmdb" in CONFIGS:
            self.start_policy("mp-100-rate-lmdb", os.path.join(rules, "rules100-rate"),
                              "state = lmdb:%s\n" % os.path.join(tb.path("mp-100-rate-lmdb"), "state.lmdb"))
        if "mp-100-rate-redis" in CONFIGS:
            from testbed import free_port, port_open
            rport = free_port()
            tb.spawn("redis", ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", tb.dir])
            if not wait_for(lambda: port_open(rport), 10):
                raise RuntimeError("redis-server did not start: " + tb.read("redis.log"))
            self.start_policy("mp-100-rate-redis", os.path.join(rules, "rules100-rate"),
                              "state = redis://127.0.0.1:%d/0\n" % rport)
        if "mp-1000" in CONFIGS:
            self.start_policy("mp-1000", os.path.join(rules, "rules1000"))
        if "mp-1000-arenas" in CONFIGS:
            # glibc's default arena count on two cores, against the daemon's own
            self.start_policy("mp-1000-arenas", os.path.join(rules, "rules1000"),
                              env={"GLIBC_TUNABLES": "glibc.malloc.arena_max=%s"
                                   % os.environ.get("MP_BENCH_ARENAS", "16")})
        if "mp-10000" in CONFIGS:
            self.start_policy("mp-10000", os.path.join(rules, "rules10000"))
        if "opendkim" in CONFIGS:
            self.start_opendkim()
        if "rspamd" in CONFIGS:
            self.start_rspamd()
        self.pf = Postfix(tb, ["example.com"], listen=ADDR, milters=False,
                          extra=["in_flow_delay = 0", "default_process_limit = 150",
                                 "smtpd_client_connection_count_limit = 0",
                                 "milter_protocol = 6", "milter_default_action = tempfail"])
        with open(tb.path("msg.eml"), "wb") as f:
            f.write(message())

    def _wait_socket(self, name, path, proc, timeout=15):
        if not wait_for(lambda: os.path.exists(path) or proc.poll() is not None, timeout) or \
                proc.poll() is not None:
            raise RuntimeError("%s did not start: %s %s" % (name, self.tb.read(name + ".log")[-3000:],
                                                           self.tb.read(os.path.join(name, name + ".log"))[-3000:]))
        self.milters[name] = (path, proc)

    def start_null(self):
        sock = self.tb.path("null.sock")
        p = self.tb.spawn("null-milter", [os.path.join(self.build, "null-milter"), "unix:" + sock])
        self._wait_socket("null-milter", sock, p)

    def start_policy(self, name, rules_dir, extra="", env=None, binary=None):
        d = self.tb.path(name)
        os.mkdir(d)
        os.chown(d, *_ids("nobody"))
        sock = os.path.join(d, "mp.sock")
        conf = self.tb.path(name + ".conf")
        with open(conf, "w") as f:
            f.write("socket = unix:%s\nsocket_mode = 0666\npidfile = %s/mp.pid\nuser = nobody\n"
                    "group = nogroup\nrules_dir = %s\ndns_servers = 127.0.0.1@%d\n"
                    "authserv_id = mx.bench.example\nlog = stderr\nreload_check_interval = 0\n%s"
                    % (sock, d, rules_dir, self.tb.dns_port, extra))
        p = self.tb.spawn(name, [binary or self.tb.binary, "-c", conf, "run", "-f"],
                          env=dict(os.environ, **env) if env else None)
        self._wait_socket(name, sock, p)

    def start_opendkim(self):
        sock = self.tb.path("opendkim.sock")
        keys = self.tb.path("opendkim-keys")
        with open(keys, "w") as f:
            with open(os.path.join(KEYS, "rsa2048.dns")) as k:
                f.write("s2048._domainkey.bank.example %s\n" % k.read().strip())
        conf = self.tb.path("opendkim.conf")
        with open(conf, "w") as f:
            f.write("Mode v\nSocket local:%s\nUMask 000\nPidFile %s\nSyslog no\nBackground no\n"
                    "TestDNSData file:%s\nAuthservID mx.bench.example\n"
                    % (sock, self.tb.path("opendkim.pid"), keys))
        p = self.tb.spawn("opendkim", ["opendkim", "-f", "-x", conf])
        self._wait_socket("opendkim", sock, p)

    def start_rspamd(self):
        root = rspamd_root()
        d = self.tb.path("rspamd")
        os.mkdir(d)
        os.chown(d, *_ids("nobody"))
        sock = os.path.join(d, "rspamd.sock")
        share = os.path.join(root, "usr", "share", "rspamd")
        with open(os.path.join(d, "regexps.lua"), "w") as f:
            f.write("config['regexp'] = config['regexp'] or {}\nlocal reconf = config['regexp']\n")
            for name, header, rx, flags in header_regexps(os.path.join(self.rules, "rules100",
                                                                     "header_checks.pcre")):
                f.write("reconf['%s'] = { re = %s, score = 1.0 }\n"
                        % (name, json.dumps("%s=/%s/%s{header}" % (header, rx, flags))))
        off = sorted(p[:-4] for p in os.listdir(os.path.join(share, "plugins"))
                     if p.endswith(".lua") and p[:-4] not in RSPAMD_KEEP)
        conf = os.path.join(d, "rspamd.conf")
        with open(conf, "w") as f:
            f.write("""options {
    pidfile = "%(d)s/rspamd.pid";
    dns { nameserver = ["127.0.0.1:%(dns)d"]; timeout = 2s; retransmits = 2; }
    local_addrs = [];
    hs_cache_dir = "%(d)s";
    disable_monitoring = true;
    filters = "dkim,regexp";
    url_tld = "%(share)s/effective_tld_names.dat";
}
logging { type = "file"; filename = "%(d)s/rspamd.log"; level = "info"; }
worker "rspamd_proxy" {
    bind_socket = "%(sock)s mode=0666";
    milter = yes;
    timeout = 120s;
    count = 2;
    upstream "local" { default = yes; self_scan = yes; }
}
modules { path = "%(share)s/plugins"; }
lua = "%(d)s/regexps.lua";
actions { reject = 1000; add_header = 999; "rewrite subject" = 998; greylist = 997; }
dkim { }
regexp { }
spf { }
chartable { enabled = false; }
fuzzy_check { enabled = false; }
milter_headers {
    use = ["authentication-results"];
    skip_local = false;
    skip_authenticated = false;
    authenticated_headers = ["authentication-results"];
}
%(off)s
""" % {"d": d, "dns": self.tb.dns_port, "sock": sock, "share": share,
               "off": "\n".join("%s { enabled = false; }" % p for p in off)})
        env = dict(os.environ, LD_LIBRARY_PATH="%s:%s" % (os.path.join(root, "usr", "lib", "rspamd"),
                                                           os.path.join(root, "usr", "lib",
                                                                        "x86_64-linux-gnu")))
        p = self.tb.spawn("rspamd", [os.path.join(root, "usr", "bin", "rspamd"), "-f", "-c", conf,
                                     "-u", "nobody", "-g", "nogroup",
                                     "--var=SHAREDIR=" + share,
                                     "--var=LUALIBDIR=" + os.path.join(share, "lualib"),
                                     "--var=PLUGINSDIR=" + os.path.join(share, "plugins"),
                                     "--var=RULESDIR=" + os.path.join(share, "rules"),
                                     "--var=CONFDIR=" + d, "--var=LOCAL_CONFDIR=" + d,
                                     "--var=RUNDIR=" + d, "--var=DBDIR=" + d, "--var=LOGDIR=" + d],
                          env=env)
        # it compiles the public suffix list and the regexps (hyperscan) first
        self._wait_socket("rspamd", sock, p, 180)

    def configure(self, cfg):
        sock = self.milters[cfg][0] if cfg in self.milters else None
        settings = ["smtpd_milters=%s" % ("unix:" + sock if sock else ""),
                    "non_smtpd_milters=",
                    "header_checks=%s" % ("pcre:%s/rules100/header_checks.pcre" % self.rules
                                          if cfg == "header-checks" else "")]
        subprocess.run(["postconf", "-c", self.pf.cfg, "-e"] + settings, check=True)
        subprocess.run(["postfix", "-c", self.pf.cfg, "reload"], check=True, capture_output=True)
        time.sleep(1.5)
        self.source(10, 100)  # warm up: new smtpd processes, caches
        self.drain()

    def drain(self):
        if not wait_for(lambda: not self.pf.queue(), 120, 0.2):
            raise RuntimeError("the queue does not drain: %s" % self.pf.queue()[:3])

    def source(self, sessions, n):
        t0 = time.monotonic()
        out = subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(n), "-F", self.tb.path("msg.eml"),
                              "-f", "alerts@bank.example", "-t", "bob@example.com",
                              "%s:%d" % (ADDR, self.pf.port)], capture_output=True, text=True)
        el = time.monotonic() - t0
        if out.returncode != 0 or out.stderr.strip():
            raise RuntimeError("smtp-source: %s %s" % (out.returncode, out.stderr.strip()[:500]))
        return el

    def run(self, cfg, sessions, n):
        pid = self.milters[cfg][1].pid if cfg in self.milters else None
        sent0 = self.pf.log().count("status=sent")
        scraper = None
        if cfg == "mp-100-metrics":
            # a Prometheus-like scrape every second while it works
            import threading
            import urllib.request
            stop = threading.Event()

            def scrape():
                while not stop.wait(1.0):
                    urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port).read()
            scraper = threading.Thread(target=scrape)
            scraper.start()
        c0 = tree_cpu_seconds(pid) if pid else 0.0
        el = self.source(sessions, n)
        c1 = tree_cpu_seconds(pid) if pid else 0.0
        if scraper is not None:
            stop.set()
            scraper.join()
        self.drain()
        sent = wait_for(lambda: self.pf.log().count("status=sent") - sent0 >= n and
                        self.pf.log().count("status=sent") - sent0, 30)
        if not sent:
            raise RuntimeError("%s: only %d of %d messages delivered" %
                               (cfg, self.pf.log().count("status=sent") - sent0, n))
        return {"msgs_per_s": n / el, "seconds": el, "cpu_ms_per_msg": (c1 - c0) * 1000 / n if pid else None}

    def check_verdicts(self):
        """The milters must have done their work: milter-policy's A-R says
        spf=pass and dkim=pass (its log shows the results)."""
        for name in [c for c in ("mp-100", "mp-100-baseline", "mp-100-nokeycache", "mp-1000", "mp-1000-arenas", "mp-10000", "mp-100-mime", "mp-100-metrics", "mp-100-rate-memory",
                                 "mp-100-rate-lmdb", "mp-100-rate-redis") if c in CONFIGS]:
            log = self.tb.read(name + ".log")
            if "spf=pass dkim=pass dmarc=pass" not in log:
                raise RuntimeError("%s did not verify: %s" % (name, log[-1000:]))
        if "mp-100-nodmarc" in CONFIGS:
            log = self.tb.read("mp-100-nodmarc.log")
            if "spf=pass dkim=pass rules" not in log:
                raise RuntimeError("mp-100-nodmarc did not verify: %s" % log[-1000:])
        if "rspamd" in CONFIGS:
            # its log line per message names the symbols that matched
            log = self.tb.read(os.path.join("rspamd", "rspamd.log"))
            scans = [l for l in log.splitlines() if "rspamd_task_write_log" in l]
            if not scans or not all("R_SPF_ALLOW" in l and "R_DKIM_ALLOW" in l for l in scans[-50:]):
                raise RuntimeError("rspamd did not verify: %s" % "\n".join(scans[-3:]) or log[-1000:])

    def mime_rss(self, sessions=100, size=20 * 1024 * 1024):
        """A fresh milter-policy with the MIME rules; sessions at once, each
        sending one message with a size-byte attachment. Returns its peak
        RSS (MiB), the messages delivered and how many files its temporary
        directory holds afterwards."""
        import base64
        tmp = self.tb.path("mime-tmp")
        os.mkdir(tmp)
        os.chown(tmp, *_ids("nobody"))
        os.environ["TMPDIR"] = tmp
        try:
            self.start_policy("mime-rss", os.path.join(self.rules, "rules100-mime"))
        finally:
            del os.environ["TMPDIR"]
        data = bytes(range(256)) * (size // 256)
        b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
        msg = (b"From: Alice <alice@bank.example>\r\nTo: bob@example.com\r\nSubject: big attachment\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
               b"--b1\r\nContent-Type: text/plain\r\n\r\nThe data.\r\n"
               b"--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--b1--\r\n")
        with open(self.tb.path("big.eml"), "wb") as f:
            f.write(msg)
        subprocess.run(["postconf", "-c", self.pf.cfg, "-e", "message_size_limit=%d" % (len(msg) * 2),
                        "smtpd_milters=unix:" + self.milters["mime-rss"][0]], check=True)
        subprocess.run(["postfix", "-c", self.pf.cfg, "reload"], check=True, capture_output=True)
        time.sleep(1.5)
        sent0 = self.pf.log().count("status=sent")
        out = subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(sessions), "-F",
                              self.tb.path("big.eml"), "-f", "alice@bank.example", "-t", "bob@example.com",
                              "%s:%d" % (ADDR, self.pf.port)], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("smtp-source: %s" % out.stderr[:500])
        self.drain()
        sent = self.pf.log().count("status=sent") - sent0
        pid = self.milters["mime-rss"][1].pid
        return peak_rss_mib(pid), sent, len(os.listdir(tmp)), len(msg)

    def rss_at(self, sessions, n):
        """A fresh milter-policy with 1,000 rules, at many sessions."""
        self.start_policy("mp-1000-rss", os.path.join(self.rules, "rules1000"))
        self.milters["mp-1000"] = self.milters["mp-1000-rss"]
        self.configure("mp-1000")
        self.run("mp-1000", sessions, n)
        return peak_rss_mib(self.milters["mp-1000"][1].pid)


def _ids(user):
    import pwd
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


def main():
    build = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    out_json = sys.argv[4] if len(sys.argv) > 4 else None
    b = Bench(build, n)
    results = {c: [] for c in CONFIGS}
    latency = {c: [] for c in CONFIGS}
    try:
        b.start()
        for r in range(rounds):
            order = CONFIGS if r % 2 == 0 else list(reversed(CONFIGS))
            for cfg in order:
                b.configure(cfg)
                res = b.run(cfg, 10, n)
                lat = b.run(cfg, 1, max(200, n // 10))
                res["round"] = r
                results[cfg].append(res)
                latency[cfg].append(lat["seconds"] / max(200, n // 10) * 1000)
                print("round %d %-18s %7.1f msg/s%s  1 session: %.2f ms/msg" %
                      (r + 1, cfg, res["msgs_per_s"],
                       "  milter CPU %.3f ms/msg" % res["cpu_ms_per_msg"] if res["cpu_ms_per_msg"] is not None else "",
                       latency[cfg][-1]), flush=True)
        b.check_verdicts()
        rss = {name: peak_rss_mib(b.milters[name][1].pid)
               for name in ("null-milter", "rspamd", "mp-100", "mp-100-baseline", "mp-100-nokeycache", "mp-100-nodmarc", "mp-100-mime", "mp-100-metrics",
                            "mp-100-rate-memory", "mp-100-rate-lmdb", "mp-100-rate-redis", "mp-1000",
                            "mp-1000-arenas", "mp-10000", "opendkim")
               if name in b.milters}
        # proportional memory now, summed over each milter's processes
        pss = {name: pss_mib(b.milters[name][1].pid) for name in b.milters}
        rss100 = b.rss_at(100, n) if "mp-1000" in CONFIGS else float("nan")
        mime = b.mime_rss() if MIME_RSS else None
    finally:
        b.tb.close()

    def med(v):
        return statistics.median(v) if v else float("nan")
    def ratio_to(cfg, base):
        """Per round, then the median: both runs saw the same machine."""
        out = []
        for res in results[cfg]:
            ref = [x for x in results.get(base, []) if x["round"] == res["round"]]
            out.append(res["msgs_per_s"] / ref[0]["msgs_per_s"] if ref else float("nan"))
        return med(out)
    summary = {}
    for cfg in CONFIGS:
        cpu = [x["cpu_ms_per_msg"] for x in results[cfg] if x["cpu_ms_per_msg"] is not None]
        summary[cfg] = {
            "msgs_per_s": med([x["msgs_per_s"] for x in results[cfg]]),
            "ratio_to_no_milter": ratio_to(cfg, "no-milter"),
            "ratio_to_null_milter": ratio_to(cfg, "null-milter"),
            "cpu_ms_per_msg": med(cpu) if cpu else None,
            "latency_ms": med(latency[cfg]),
            "added_latency_ms": med(latency[cfg]) - med(latency.get("no-milter", [])),
            "peak_rss_mib": rss.get(cfg),
            "pss_mib": pss.get(cfg),
        }
    print("\nmedians over %d rounds (ratios: per round, then the median), %d messages at 10 sessions,"
          " %d at 1 session:" % (rounds, n, max(200, n // 10)))
    print("%-18s %9s %9s %9s %12s %12s %10s %10s" % ("config", "msg/s", "/no-milt", "/null", "CPU ms/msg",
                                                   "+latency ms", "peak RSS", "Pss"))
    for cfg in CONFIGS:
        s = summary[cfg]
        print("%-18s %9.1f %9.2f %9.2f %12s %12.2f %10s %10s" % (
            cfg, s["msgs_per_s"], s["ratio_to_no_milter"], s["ratio_to_null_milter"],
            "%.3f" % s["cpu_ms_per_msg"] if s["cpu_ms_per_msg"] is not None else "-",
            s["added_latency_ms"], "%.1f MiB" % s["peak_rss_mib"] if s["peak_rss_mib"] else "-",
            "%.1f MiB" % s["pss_mib"] if s["pss_mib"] else "-"))
    if rss100 == rss100:  # measured (not NaN)
        print("milter-policy, 1,000 rules, 100 sessions: peak RSS %.1f MiB" % rss100)
    if mime is not None:
        print("milter-policy, MIME rules, 100 sessions each sending a 20 MiB attachment (%.1f MB message):"
              " peak RSS %.1f MiB, %d delivered, %d files left in its temporary directory"
              % (mime[3] / 1e6, mime[0], mime[1], mime[2]))
    targets = target_table(results, summary, rss100)
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"rounds": rounds, "messages": n, "summary": summary, "runs": results,
                       "targets": [{"target": a, "measured": b, "met": c} for a, b, c in targets],
                       "latency_ms": latency, "rss_1000_rules_100_sessions_mib": rss100,
                       "mime_rss_100_sessions_20mib": mime}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
