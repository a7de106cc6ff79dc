"""The end-to-end testbed: on loopback only, in one temporary directory,
unbound with the test zones, milter-policy on a unix socket (dns_servers
pointing at that unbound), smtp-sink storing what the MTA relays, and a
private Postfix (or Sendmail, see sendmail.py) with milter-policy as its
milter. Everything started is stopped by pid when the testbed closes, also
when a test fails or the run is interrupted.
"""
import atexit
import email
import email.policy
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
KEYS = os.path.join(TESTS, "dkim", "keys")
AUTHSERV = "mx.e2e.example"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def txt(rec):
    parts = [rec[i:i + 250] for i in range(0, len(rec), 250)] or [""]
    return " ".join('"%s"' % p for p in parts)


class Testbed:
    """Start with start_dns(), start_milter(), start_sink(), then an MTA."""

    def __init__(self, binary, name="e2e"):
        self.binary = binary
        # not under /tmp: Sendmail refuses a milter socket below a
        # world-writable directory
        base = os.environ.get("MP_E2E_BASE", "/var/lib/milter-policy-tests")
        os.makedirs(base, mode=0o755, exist_ok=True)
        os.chmod(base, 0o755)
        self.dir = tempfile.mkdtemp(prefix="%s-" % name, dir=base)
        os.chmod(self.dir, 0o755)
        self.procs = []        # (name, Popen)
        self.stoppers = []     # callables run at close
        self.closed = False
        atexit.register(self.close)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        self.close()
        raise SystemExit(128 + signum)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def spawn(self, name, argv, **kw):
        log = open(self.path(name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kw)
        self.procs.append((name, p))
        return p

    # -- DNS -----------------------------------------------------------
    def start_dns(self, records):
        """records: (owner, type, data) with data as in a zone file."""
        self.dns_port = free_port()
        dead = free_port()  # nothing listens there: SERVFAIL at once
        keys = {k: open(os.path.join(KEYS, k + ".dns")).read().strip()
                for k in ("rsa2048", "ed25519")}
        lines = [
            "server:",
            "    interface: 127.0.0.1",
            "    port: %d" % self.dns_port,
            "    do-daemonize: no",
            '    chroot: ""',
            '    username: ""',
            '    directory: "%s"' % self.dir,
            '    pidfile: ""',
            "    use-syslog: no",
            "    verbosity: 0",
            "    do-ip6: no",
            "    access-control: 127.0.0.0/8 allow",
            '    local-zone: "." static',
            '    local-zone: "broken.example." transparent',
        ]
        for owner, typ, data in records:
            lines.append("    local-data: '%s. 300 IN %s %s'" % (owner, typ, data))
        for sel, dom, k in (("s2048", "bank.example", "rsa2048"), ("ed", "bank.example", "ed25519"),
                            ("esp", "esp.example", "rsa2048")):
            lines.append("    local-data: '%s._domainkey.%s. 300 IN TXT %s'" % (sel, dom, txt(keys[k])))
        lines += ["forward-zone:", '    name: "broken.example."', "    forward-addr: 127.0.0.1@%d" % dead]
        with open(self.path("unbound.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")
        self.spawn("unbound", ["unbound", "-c", self.path("unbound.conf")])
        if not wait_for(lambda: self._udp_listening(self.dns_port)):
            raise RuntimeError("unbound did not start: " + self.read("unbound.log"))

    def _udp_listening(self, port):
        out = subprocess.run(["ss", "-lun"], capture_output=True, text=True).stdout
        return ("127.0.0.1:%d " % port) in out

    # -- milter-policy -------------------------------------------------
    def start_milter(self, rules_src, extra="", authserv=AUTHSERV):
        self.rules = self.path("rules")
        shutil.copytree(rules_src, self.rules)
        mp = self.path("mp")
        os.mkdir(mp)
        shutil.chown(mp, "nobody")
        os.chmod(mp, 0o755)
        self.socket = os.path.join(mp, "mp.sock")
        self.conf = self.path("mp.conf")
        self.conf_text = (
            "socket = unix:%s\n"
            "socket_mode = 0666\n"
            "pidfile = %s/mp.pid\n"
            "user = nobody\n"
            "group = nogroup\n"
            "rules_dir = %s\n"
            "dns_servers = 127.0.0.1@%d\n"
            "dns_timeout = 2s\n"
            "authserv_id = %s\n"
            "log = stderr\n"
            "log_level = debug\n"
            "reload_check_interval = 1s\n" % (self.socket, mp, self.rules, self.dns_port, authserv)
        )
        # a key in extra replaces the default above
        keys = {l.split("=")[0].strip() for l in extra.splitlines() if "=" in l}
        self.conf_text = "".join(l + "\n" for l in self.conf_text.splitlines()
                                 if l.split("=")[0].strip() not in keys) + extra
        self.write_conf(self.conf_text)
        self.milter = self.spawn("milter", [self.binary, "-c", self.conf, "run", "-f"])
        if not wait_for(lambda: os.path.exists(self.socket)):
            raise RuntimeError("milter-policy did not start: " + self.read("milter.log"))
        self.stoppers.append(self._stop_milter)

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def _stop_milter(self):
        if self.milter.poll() is None:
            self.milter.send_signal(signal.SIGTERM)
            try:
                self.milter.wait(20)
            except subprocess.TimeoutExpired:
                self.milter.kill()
        return self.milter.returncode

    def milter_log(self):
        return self.read("milter.log")

    # -- smtp-sink -----------------------------------------------------
    def start_sink(self, store=True):
        self.sink_port = free_port()
        self.sink_dir = self.path("sink")
        os.mkdir(self.sink_dir)
        os.chmod(self.sink_dir, 0o777)
        dump = ["-d", os.path.join(self.sink_dir, "msg.")] if store else []
        self.spawn("sink", ["smtp-sink", "-u", "nobody"] + dump + ["127.0.0.1:%d" % self.sink_port, "256"])
        if not wait_for(lambda: port_open(self.sink_port)):
            raise RuntimeError("smtp-sink did not start: " + self.read("sink.log"))

    def clear_sink(self):
        for f in glob.glob(os.path.join(self.sink_dir, "msg.*")):
            os.unlink(f)

    def sink_messages(self, n=1, timeout=15.0):
        """Waits for n delivered messages; returns them parsed (with the
        raw bytes in .raw), oldest first."""
        def ready():
            files = glob.glob(os.path.join(self.sink_dir, "msg.*"))
            return files if len(files) >= n else None
        files = wait_for(ready, timeout) or []

        def sizes():
            return [os.path.getsize(f) for f in files]
        # a file appears before it is complete: wait until the sizes settle
        last = None
        while files and sizes() != last:
            last = sizes()
            time.sleep(0.2)
        out = []
        for f in sorted(files, key=os.path.getmtime):
            with open(f, "rb") as fh:
                raw = fh.read()
            m = email.message_from_bytes(raw, policy=email.policy.compat32)
            m.raw = raw
            out.append(m)
        return out

    # -- helpers -------------------------------------------------------
    def read(self, name):
        try:
            with open(self.path(name), "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        if self.closed:
            return
        self.closed = True
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception:  # keep stopping the rest
                pass
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if os.environ.get("MP_E2E_KEEP"):
            print("testbed kept in %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
