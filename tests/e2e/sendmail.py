"""A private Sendmail for the end-to-end tests (see testbed.py).

Debian's sendmail packages conflict with postfix, so they are not
installed: scripts/deps.sh downloads them into DEBS, and they are unpacked
here into a private root in the testbed directory. Sendmail runs there in
the foreground (-bD) on a loopback port, in a UTS namespace of its own whose
host name is dotted (an undotted one makes it wait 60 s at start), resolves
host names from files only, relays everything to smtp-sink, and has
milter-policy as its INPUT_MAIL_FILTER (the line docs/sendmail.md shows).
"""
import glob
import os
import signal
import subprocess

from testbed import free_port, port_open, wait_for

DEBS = os.environ.get("MP_SENDMAIL_DEBS", "/var/cache/milter-policy-tests")

MC = """\
divert(-1)
divert(0)dnl
include(`{root}/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`milter-policy e2e')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `mx.sendmail.example')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confSERVICE_SWITCH_FILE', `{dir}/service.switch')dnl
define(`QUEUE_DIR', `{dir}/mqueue')dnl
define(`confPID_FILE', `{dir}/sendmail.pid')dnl
define(`STATUS_FILE', `{dir}/statistics')dnl
define(`ALIAS_FILE', `')dnl
define(`SMART_HOST', `relay:[127.0.0.1]')dnl
define(`RELAY_MAILER_ARGS', `TCP $h {sink}')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`promiscuous_relay')dnl
DAEMON_OPTIONS(`Port={port}, Addr=127.0.0.1, Name=MTA')dnl
DAEMON_OPTIONS(`Port={port}, Addr=::1, Family=inet6, Name=MTA6')dnl
dnl the milter lines of docs/sendmail.md
define(`confMILTER_MACROS_CONNECT', `j, _, {{daemon_name}}, {{client_addr}}, {{client_name}}, {{client_port}}')dnl
define(`confMILTER_MACROS_HELO', `{{tls_version}}, {{cipher}}')dnl
define(`confMILTER_MACROS_ENVFROM', `i, {{auth_authen}}, {{auth_type}}')dnl
define(`confMILTER_MACROS_ENVRCPT', `i')dnl
define(`confMILTER_MACROS_EOH', `i')dnl
define(`confMILTER_MACROS_EOM', `i')dnl
INPUT_MAIL_FILTER(`policy', `S=unix:{socket}, F=T, T=C:30s;S:30s;R:30s;E:5m')dnl
MAILER(`smtp')dnl
"""


class Sendmail:
    def __init__(self, tb):
        debs = glob.glob(os.path.join(DEBS, "sendmail-*.deb"))
        if len(debs) < 3:
            raise RuntimeError("sendmail packages missing in %s (scripts/deps.sh fetches them)" % DEBS)
        self.tb = tb
        self.dir = tb.path("sendmail")
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root)
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", deb, self.root], check=True)
        os.makedirs(os.path.join(self.dir, "mqueue"), mode=0o700)
        with open(os.path.join(self.dir, "service.switch"), "w") as f:
            f.write("hosts files\naliases files\n")
        self.port = free_port()
        with open(os.path.join(self.dir, "sendmail.mc"), "w") as f:
            f.write(MC.format(root=self.root, dir=self.dir, sink=tb.sink_port, port=self.port,
                              socket=tb.socket))
        with open(os.path.join(self.dir, "sendmail.cf"), "w") as out:
            subprocess.run(["m4", os.path.join(self.dir, "sendmail.mc")], stdout=out, check=True,
                           stderr=subprocess.DEVNULL)
        binary = os.path.join(self.root, "usr", "libexec", "sendmail", "sendmail")
        self.proc = tb.spawn("sendmail", [
            "unshare", "--uts", "sh", "-c",
            'hostname mx.sendmail.example && exec "$0" -C "$1" -bD',
            binary, os.path.join(self.dir, "sendmail.cf")], start_new_session=True)
        tb.stoppers.append(self.stop)
        if not wait_for(lambda: port_open(self.port), 20):
            raise RuntimeError("sendmail did not start: " + tb.read("sendmail.log"))

    def log(self):
        return self.tb.read("sendmail.log")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # connection children it forked
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
