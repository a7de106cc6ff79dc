"""A private Postfix instance for the end-to-end tests (see testbed.py):
its own main.cf and master.cf (nothing chrooted) in the testbed directory,
one smtpd on a loopback port that allows XCLIENT from loopback, every
message relayed to smtp-sink, milter-policy as smtpd_milters and
non_smtpd_milters. The milter settings are the ones docs/postfix.md shows.
"""
import json
import os
import subprocess

from testbed import free_port, port_open, wait_for

MASTER_CF = """\
{listen}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# The milter lines are docs/postfix.md's, with the socket path filled in.
MILTER_CF = """\
smtpd_milters = {{ unix:{socket}, default_action=tempfail, protocol=6,
    connect_timeout=30s, command_timeout=30s, content_timeout=300s }}
non_smtpd_milters = $smtpd_milters
"""


class Postfix:
    def __init__(self, tb, relay_domains, listen="127.0.0.1", milters=True, extra=()):
        self.tb = tb
        self.cfg = tb.path("postfix")
        os.makedirs(os.path.join(self.cfg, "spool"))
        os.makedirs(os.path.join(self.cfg, "data"))
        os.chown(os.path.join(self.cfg, "data"), *_ids("postfix"))
        self.port = free_port()
        self.maillog = os.path.join(self.cfg, "maillog")
        main = [
            "compatibility_level = 3.6",
            "queue_directory = %s/spool" % self.cfg,
            "data_directory = %s/data" % self.cfg,
            "maillog_file = %s" % self.maillog,
            "maillog_file_prefixes = %s" % self.cfg,
            "myhostname = mx.e2e.example",
            "mydomain = e2e.example",
            "inet_interfaces = %s" % listen,
            # all: XCLIENT accepts an IPv6 client address only then
            "inet_protocols = all",
            "mydestination =",
            "mynetworks = 127.0.0.0/8",
            "relay_domains = %s" % ", ".join(relay_domains),
            "relay_transport = relay:[127.0.0.1]:%d" % tb.sink_port,
            "default_transport = smtp:[127.0.0.1]:%d" % tb.sink_port,
            "smtp_dns_support_level = disabled",
            "smtpd_authorized_xclient_hosts = 127.0.0.0/8",
            "alias_maps =",
            "alias_database =",
            "local_recipient_maps =",
            "biff = no",
            "message_size_limit = 52428800",
            "smtputf8_enable = no",
        ] + list(extra)
        with open(os.path.join(self.cfg, "main.cf"), "w") as f:
            f.write("\n".join(main) + "\n" + (MILTER_CF.format(socket=tb.socket) if milters else ""))
        with open(os.path.join(self.cfg, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen=listen, port=self.port))
        self.listen = listen
        self._run("check")
        self._run("start")
        tb.stoppers.append(self.stop)
        if not wait_for(lambda: port_open(self.port, listen), 20):
            raise RuntimeError("postfix did not start: " + self.log())
        # smtpd reads the milter settings when a client connects; a setting
        # it refuses is fatal for every session, so one greeting here saves
        # a timeout per test
        if not self.greets():
            fatal = [l for l in self.log().splitlines() if "fatal" in l or "warning" in l]
            raise RuntimeError("postfix smtpd does not greet: " + "\n".join(fatal[-5:]))

    def greets(self):
        import socket
        try:
            with socket.create_connection((self.listen, self.port), timeout=10) as sk:
                return sk.recv(512).startswith(b"220")
        except OSError:
            return False

    def _run(self, what):
        # postfix reports early errors only on a terminal or to syslog
        out = subprocess.run(["script", "-qec", "postfix -c %s %s" % (self.cfg, what), "/dev/null"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("postfix %s: %s" % (what, out.stdout + out.stderr))

    def stop(self):
        subprocess.run(["postfix", "-c", self.cfg, "stop"], capture_output=True)
        pidfile = os.path.join(self.cfg, "spool", "pid", "master.pid")

        def master_gone():
            try:
                pid = int(open(pidfile).read().strip())
                os.kill(pid, 0)
                return False
            except (OSError, ValueError):
                return True
        if not wait_for(master_gone, 10):
            pid = int(open(pidfile).read().strip())
            os.kill(pid, 9)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def queue(self):
        """The queue as postqueue -j lists it."""
        out = subprocess.run(["postqueue", "-c", self.cfg, "-j"], capture_output=True, text=True)
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def sendmail(self, sender, rcpts, data):
        """Submits with Postfix's sendmail command (pickup, non_smtpd_milters)."""
        return subprocess.run(["sendmail", "-C", self.cfg, "-f", sender, "-i"] + rcpts, input=data,
                              capture_output=True)

    def wait_log(self, text, timeout=15.0):
        return wait_for(lambda: text in self.log(), timeout)


def _ids(user):
    import pwd
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid


def swaks(port, *args, data=None, timeout=120):
    """Runs swaks against 127.0.0.1:port; returns its transcript."""
    argv = ["swaks", "--server", "127.0.0.1:%d" % port, "--timeout", "60"] + list(args)
    out = subprocess.run(argv, input=data, stdin=None if data is not None else subprocess.DEVNULL,
                         capture_output=True, timeout=timeout)
    return Transcript(out.stdout.decode("utf-8", "replace") + out.stderr.decode("utf-8", "replace"))


class Transcript:
    """A swaks transcript: client lines ("->"/" ->") and server replies
    ("<-"/"<~", "<**" for errors)."""

    def __init__(self, text):
        self.text = text
        self.lines = []
        for line in text.splitlines():
            if line.startswith(" -> ") or line.startswith("-> "):
                self.lines.append(("C", line.split("-> ", 1)[1]))
            elif line.startswith("<-  ") or line.startswith("<** "):
                self.lines.append(("S", line[4:]))

    def reply_to(self, command, nth=1):
        """The full reply (last line) to the nth client line starting with
        command (case-insensitive), or None."""
        seen = 0
        for i, (who, line) in enumerate(self.lines):
            if who == "C" and line.upper().startswith(command.upper()):
                seen += 1
                if seen == nth:
                    return self._reply_after(i)
        return None

    def end_of_data(self):
        """The reply to the end of the message (after the 354)."""
        for i, (who, line) in enumerate(self.lines):
            if who == "S" and line.startswith("354"):
                return self._reply_after(i)
        return None

    def _reply_after(self, i):
        last = None
        for who, line in self.lines[i + 1:]:
            if who == "S":
                last = line
                if len(line) < 4 or line[3] != "-":
                    return line
            elif last is not None:
                break
        return last
