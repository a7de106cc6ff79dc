#!/usr/bin/python3
"""The Debian package on this machine (scripts/test, after scripts/package):
installed with `apt-get install ./DEB`, it has made its user and put
postfix in its group, `milter-policy check` passes on the shipped
configuration and rules, the manual pages render without warnings and the
unit verifies. Then the unit's own ExecStart runs as systemd would run it
(RuntimeDirectory made, NOTIFY_SOCKET listening: systemd is not PID 1
here): the daemon says READY=1, runs as its user, its socket is the
installed path with the installed owner and mode, and one message goes
through the e2e Postfix bed over that socket; the unit's ExecReload gets
RELOADING=1 and READY=1 and exits 0; SIGTERM stops it. Last, purge, and
nothing of the package is left but its account (Debian policy keeps it).

Usage: package.py DEB
"""
import configparser
import grp
import os
import pwd
import shlex
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e"))
from helpers import AUTHSERV, Fail, ar_results, check, delivered, msg, reply, send  # noqa: E402
from postfix import Postfix  # noqa: E402
from testbed import Testbed  # noqa: E402

DEB = os.path.abspath(sys.argv[1])
UNIT = "/lib/systemd/system/milter-policy.service"
CONF = "/etc/milter-policy/milter-policy.conf"
SOCK = "/run/milter-policy/milter-policy.sock"
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def sh(*argv, ok=True, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV, **kw)
    if ok and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
    return p


def installed():
    p = sh("dpkg-query", "-W", "-f=${Status}", "milter-policy", ok=False)
    return "ok installed" in p.stdout


def unit_service():
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(UNIT)
    return cp["Service"]


def install_checks():
    sh("apt-get", "install", "-y", "-qq", DEB)
    check(installed(), "milter-policy is not installed")
    pw = pwd.getpwnam("milter-policy")
    check(pw.pw_shell.endswith("nologin") and pw.pw_uid < 1000, "account %s" % (pw,))
    check("postfix" in grp.getgrnam("milter-policy").gr_mem, "postfix is not in group milter-policy")
    p = sh("milter-policy", "check")
    check(": OK\n" in p.stdout and "refuse" not in p.stdout + p.stderr, "check: %s%s" % (p.stdout, p.stderr))
    p = sh("milter-policy", "test", "--case", *sorted(
        os.path.join("/etc/milter-policy/rules.d/tests", f) for f in os.listdir("/etc/milter-policy/rules.d/tests")))
    check(" 0 failed" in p.stdout, "shipped cases: %s" % p.stdout[-300:])
    conffiles = open("/var/lib/dpkg/info/milter-policy.conffiles").read().split()
    check(CONF in conffiles and "/etc/milter-policy/rules.d/global.rules" in conffiles,
          "conffiles: %s" % conffiles)
    for page in ("milter-policy", "milter-policy.conf", "milter-policy.rules"):
        p = sh("man", "--warnings", page, ok=False)
        check(p.returncode == 0 and p.stderr == "" and "NAME" in p.stdout,
              "man %s: exit %d %s" % (page, p.returncode, p.stderr))
    p = sh("systemd-analyze", "verify", UNIT, ok=False)
    check(p.returncode == 0 and p.stdout + p.stderr == "",
          "systemd-analyze verify: %s%s" % (p.stdout, p.stderr))


class Notify:
    """The systemd notification socket a Type=notify unit talks to."""

    def __init__(self, path):
        self.path = path
        self.sk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sk.bind(path)
        os.chmod(path, 0o777)  # the daemon says STOPPING after dropping root
        self.sk.settimeout(0.2)
        self.got = []

    def wait(self, word, timeout=20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(word in m.split("\n") for m in self.got):
                self.got = self.got[[i for i, m in enumerate(self.got) if word in m.split("\n")][0] + 1:]
                return True
            try:
                self.got.append(self.sk.recv(4096).decode())
            except socket.timeout:
                pass
        return False


def service_checks():
    svc = unit_service()
    check(svc.get("Type") == "notify", "Type=%s" % svc.get("Type"))
    tb = Testbed("/usr/sbin/milter-policy", "package")
    try:
        tb.start_dns([("sender.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"')])
        tb.start_sink()
        # as an administrator would: resolvers and the authserv-id set in
        # the shipped file (purge removes it all the same)
        with open(CONF, "a") as f:
            f.write("dns_servers = 127.0.0.1@%d\nauthserv_id = %s\n" % (tb.dns_port, AUTHSERV))
        sh("milter-policy", "check")
        # what systemd does before ExecStart: the RuntimeDirectory
        rt = os.path.join("/run", svc["RuntimeDirectory"])
        os.makedirs(rt, exist_ok=True)
        os.chmod(rt, int(svc.get("RuntimeDirectoryMode", "0755"), 8))
        notify = Notify(tb.path("notify"))
        env = dict(os.environ, NOTIFY_SOCKET=notify.path)
        log = open(tb.path("milter.log"), "wb")
        daemon = subprocess.Popen(shlex.split(svc["ExecStart"]), env=env, stdout=log, stderr=log)
        tb.stoppers.append(lambda: daemon.poll() is None and daemon.kill())
        check(notify.wait("READY=1"), "no READY=1: " + tb.read("milter.log"))
        uid = [l.split()[1:] for l in open("/proc/%d/status" % daemon.pid) if l.startswith("Uid:")][0]
        mp = pwd.getpwnam("milter-policy")
        check(all(int(u) == mp.pw_uid for u in uid), "the daemon runs as uid %s" % uid)
        st = os.stat(SOCK)
        check(stat.S_ISSOCK(st.st_mode) and st.st_uid == mp.pw_uid and
              st.st_gid == grp.getgrnam("milter-policy").gr_gid and stat.S_IMODE(st.st_mode) == 0o660,
              "socket %s: uid %d gid %d mode %o" % (SOCK, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)))

        # the bed's Postfix, over the installed socket, as user postfix
        tb.socket = SOCK
        pf = Postfix(tb, ["example.com"])
        t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("through the package"))
        reply(t.reply_to("MAIL FROM"), "250", "MAIL FROM")
        reply(t.end_of_data(), "250", "end of data")
        m = delivered(tb)[0]
        # ours: the authserv-id written in the configuration above
        check(ar_results(m).get("spf") == "pass", "Authentication-Results: %s" % m.get_all("Authentication-Results"))

        # systemctl reload
        p = subprocess.run(shlex.split(svc["ExecReload"]), capture_output=True, text=True)
        check(p.returncode == 0, "ExecReload: exit %d %s%s" % (p.returncode, p.stdout, p.stderr))
        check(notify.wait("RELOADING=1", 5) and notify.wait("READY=1", 5), "no RELOADING=1, READY=1")
        # the installed binary is its own prefilter compiler, at start and reload
        check("compiling helper" not in tb.read("milter.log"),
              "the prefilter helper failed: " + tb.read("milter.log"))

        # systemctl stop
        daemon.terminate()
        check(daemon.wait(30) == 0, "exit %s after SIGTERM: %s" % (daemon.returncode, tb.read("milter.log")))
        subprocess.run(["rm", "-rf", rt])  # as systemd does
    finally:
        tb.close()


def purge_checks():
    files = [l.strip() for l in open("/var/lib/dpkg/info/milter-policy.list")]
    sh("apt-get", "purge", "-y", "-qq", "milter-policy")
    check(not installed(), "milter-policy is still installed")
    left = [f for f in files if os.path.lexists(f) and not os.path.isdir(f)]
    left += [d for d in ("/etc/milter-policy", "/run/milter-policy", "/var/lib/milter-policy")
             if os.path.lexists(d)]
    left += [os.path.join(r, f) for r, _, fs in os.walk("/etc/systemd") for f in fs if "milter-policy" in f]
    check(left == [], "left after purge: %s" % left)
    pwd.getpwnam("milter-policy")  # kept, as Debian policy asks


def main():
    if installed():
        sh("apt-get", "purge", "-y", "-qq", "milter-policy")
    for name, fn in (("install", install_checks), ("service", service_checks), ("purge", purge_checks)):
        try:
            fn()
        except (Fail, AssertionError) as e:
            print("FAIL %s: %s" % (name, e))
            if installed():
                sh("apt-get", "purge", "-y", "-qq", "milter-policy", ok=False)
            return 1
        print("ok   %s" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
