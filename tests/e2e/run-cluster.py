#!/usr/bin/env python3
"""End to end: shared state across two MX hosts (SPEC §12). Two private
Postfix instances, each with its own milter-policy, share one real
redis-server (Debian's, started here on loopback with a password):

- a sender limited to 30 messages a minute: 30 go through, alternating
  between the hosts; the 31st is refused at MAIL FROM whichever host it
  reaches, and so is the next one at the other host;
- a triplet greylisted at MX 1 and retried after the delay at MX 2 passes
  (and reaches smtp-sink);
- Redis killed mid-run: MX 1 (on_state_error = tempfail) answers
  451 4.3.0 within state_timeout, MX 2 (on_state_error = accept) lets the
  message through; both log the failure and count it in
  milter_policy_state_errors_total; with Redis back, MX 1 passes again;
- both hosts reloaded to state = memory: the same sender now gets 30 a
  minute at each host - the limit is per host, which is why a cluster
  needs Redis.

Usage: run-cluster.py BINARY
"""
import os
import signal
import smtplib
import subprocess
import sys
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers import Fail, check, msg  # noqa: E402
from postfix import Postfix  # noqa: E402
from testbed import Testbed, free_port, port_open, wait_for  # noqa: E402

PASSWORD = "cluster-test-secret"
RULES = """\
version 1

rule "sender-flood" {
    when rate(mail.from, 1m) > 30
    reject 550 5.7.1 "Too many messages from ${mail.from}"
}

rule "greylist-new" {
    when mail.from.domain == "grey.example"
    greylist 3s
}
"""


class Redis:
    def __init__(self, tb):
        self.tb = tb
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = self.tb.spawn("redis", [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--requirepass", PASSWORD, "--dir", self.tb.dir])
        if not wait_for(lambda: port_open(self.port), 10):
            raise RuntimeError("redis-server did not start: " + self.tb.read("redis.log"))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def host(name, dns_tb, redis, on_error, pwfile):
    """One MX: its own testbed directory, milter-policy, smtp-sink, Postfix."""
    tb = Testbed(sys.argv[1], name)
    tb.dns_port = dns_tb.dns_port
    rules = tb.path("rules-src")
    os.mkdir(rules)
    with open(os.path.join(rules, "global.rules"), "w") as f:
        tb.metrics_port = free_port()
        f.write(RULES)
    tb.start_milter(rules, extra=(
        "state = redis://127.0.0.1:%d/2\n"
        "state_password_file = %s\n"
        "state_timeout = 300ms\n"
        "state_prefix = cluster-test:\n"
        "on_state_error = %s\n"
        "metrics_listen = 127.0.0.1:%d\n" % (redis.port, pwfile, on_error, tb.metrics_port)))
    tb.start_sink()
    return tb, Postfix(tb, ["example.com"])


def smtp(pf, frm, to="bob@example.com", subject="cluster"):
    """One message; the (code, text) of the command that decided it, and
    the seconds the MAIL FROM to end-of-data exchange took."""
    s = smtplib.SMTP("127.0.0.1", pf.port, timeout=60)
    try:
        s.ehlo("mail.sender.example")
        t0 = time.monotonic()
        code, text = s.mail(frm)
        if code != 250:
            return code, text.decode(), time.monotonic() - t0
        code, text = s.rcpt(to)
        if code != 250:
            return code, text.decode(), time.monotonic() - t0
        code, text = s.data(msg(subject, frm=frm, to=to))
        return code, text.decode(), time.monotonic() - t0
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def metric(tb, name):
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % tb.metrics_port, timeout=10)
    for line in body.read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def reload(tb, conf_text):
    tb.write_conf(conf_text)
    out = subprocess.run([sys.argv[1], "-c", tb.conf, "reload"], capture_output=True, text=True)
    check(out.returncode == 0, "reload: %s %s" % (out.stdout, out.stderr))


def main():
    dns = Testbed(sys.argv[1], "cluster-dns")
    dns.start_dns([])
    redis = Redis(dns)
    redis.start()
    pwfile = dns.path("redis.password")
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(pwfile, 0o644)
    tb1, mx1 = host("cluster-mx1", dns, redis, "tempfail", pwfile)
    tb2, mx2 = host("cluster-mx2", dns, redis, "accept", pwfile)
    mxs = [mx1, mx2]
    failed = 0

    def case(fn):
        nonlocal failed
        try:
            fn()
            print("ok   %s" % fn.__name__)
        except Fail as e:
            failed += 1
            print("FAIL %s: %s" % (fn.__name__, e))
        except Exception:
            failed += 1
            print("FAIL %s:\n%s" % (fn.__name__, traceback.format_exc()))
        sys.stdout.flush()

    def shared_rate_limit():
        for i in range(30):
            code, text, _ = smtp(mxs[i % 2], "flood@sender.example", subject="flood %d" % i)
            check(code == 250, "message %d at MX %d: %d %s" % (i + 1, i % 2 + 1, code, text))
        code, text, _ = smtp(mx1, "flood@sender.example", subject="flood 31")
        check(code == 550 and text == "5.7.1 Too many messages from flood@sender.example",
              "31st at MX 1: %d %s" % (code, text))
        code, text, _ = smtp(mx2, "flood@sender.example", subject="flood 32")
        check(code == 550 and text.startswith("5.7.1 Too many messages"),
              "32nd at MX 2: %d %s" % (code, text))
        # another sender is not limited
        code, text, _ = smtp(mx2, "calm@sender.example")
        check(code == 250, "another sender: %d %s" % (code, text))
        # test --state reads the shared count (and adds nothing to it)
        def stored():
            out = subprocess.run(["redis-cli", "--no-auth-warning", "-a", PASSWORD, "-p", str(redis.port),
                                  "-n", "2", "HVALS", "cluster-test:r|rate(mail.from,60s)|flood@sender.example/60"],
                                 capture_output=True, text=True)
            return sum(int(v) for v in out.stdout.split())
        check(stored() == 32, "the shared count in Redis is %d, wanted 32" % stored())
        for _ in range(2):
            out = subprocess.run([sys.argv[1], "-c", tb1.conf, "test", "--state",
                                  "redis://127.0.0.1:%d/2" % redis.port, "--from", "flood@sender.example",
                                  "--rcpt", "bob@example.com", "--client-ip", "192.0.2.9", "-"],
                                 input=b"Subject: x\r\n\r\nx\r\n", capture_output=True)
            check(b"decision: reject at mail (rule sender-flood)" in out.stdout,
                  "test --state redis: %s %s" % (out.stdout[-600:], out.stderr))
        check(stored() == 32, "test --state changed the count: %d" % stored())
        code, text, _ = smtp(mx1, "flood@sender.example", subject="flood 33")
        check(code == 550, "33rd at MX 1: %d %s" % (code, text))

    def greylist_across_hosts():
        code, text, _ = smtp(mx1, "news@grey.example", subject="greylisted")
        check(code == 451 and text == "4.7.1 Greylisted, try again in 3 seconds",
              "first try at MX 1: %d %s" % (code, text))
        code, text, _ = smtp(mx2, "news@grey.example", subject="greylisted")
        check(code == 451 and text.startswith("4.7.1 Greylisted, try again in "),
              "early retry at MX 2: %d %s" % (code, text))
        time.sleep(3.5)
        code, text, _ = smtp(mx2, "news@grey.example", subject="greylisted")
        check(code == 250, "retry after the delay at MX 2: %d %s" % (code, text))
        # (earlier messages may still be on their way to smtp-sink)
        got = wait_for(lambda: [m for m in tb2.sink_messages(1, 1.0) if m["Subject"] == "greylisted"], 15)
        check(got and len(got) == 1, "the greylisted message reached smtp-sink %d times" % len(got or []))

    def redis_down():
        before1 = metric(tb1, "milter_policy_state_errors_total")
        before2 = metric(tb2, "milter_policy_state_errors_total")
        redis.kill()
        code, text, took = smtp(mx1, "down@sender.example", subject="down 1")
        check(code == 451 and text == "4.3.0 Temporary state failure",
              "MX 1 with Redis down: %d %s" % (code, text))
        check(took < 1.5, "MX 1 answered after %.2f s (state_timeout 300ms)" % took)
        code, text, took = smtp(mx2, "down@sender.example", subject="down 2")
        check(code == 250, "MX 2 (on_state_error = accept) with Redis down: %d %s" % (code, text))
        check(wait_for(lambda: "state error: redis 127.0.0.1:%d" % redis.port in tb1.milter_log(), 5),
              "MX 1 logged no state error")
        check(wait_for(lambda: "on_state_error (accept)" in tb2.milter_log(), 5),
              "MX 2 logged no state error")
        check(metric(tb1, "milter_policy_state_errors_total") >= before1 + 1, "MX 1 metric")
        check(metric(tb2, "milter_policy_state_errors_total") >= before2 + 1, "MX 2 metric")
        redis.start()
        # the backoff after a failure is at most 2 s
        ok = wait_for(lambda: smtp(mx1, "back@sender.example", subject="back")[0] == 250, 10, 0.5)
        check(ok, "MX 1 did not recover with Redis back")

    def memory_is_per_host():
        for tb in (tb1, tb2):
            reload(tb, tb.conf_text.replace("state = redis://127.0.0.1:%d/2" % redis.port,
                                            "state = memory"))
        for i in range(30):
            code, text, _ = smtp(mx1, "local@sender.example", subject="m1 %d" % i)
            check(code == 250, "message %d at MX 1: %d %s" % (i + 1, code, text))
        for i in range(30):
            code, text, _ = smtp(mx2, "local@sender.example", subject="m2 %d" % i)
            check(code == 250, "message %d at MX 2 (a count of its own): %d %s" % (i + 1, code, text))
        code, text, _ = smtp(mx2, "local@sender.example", subject="m2 31")
        check(code == 550, "31st at MX 2: %d %s" % (code, text))

    try:
        for fn in (shared_rate_limit, greylist_across_hosts, redis_down, memory_is_per_host):
            case(fn)
        for tb in (tb1, tb2):
            rc = tb._stop_milter()
            if rc != 0:
                failed += 1
                print("FAIL milter-policy exited %s at the end" % rc)
        if failed:
            for name, tb, mx in (("MX 1", tb1, mx1), ("MX 2", tb2, mx2)):
                print("--- %s milter-policy log (tail)\n%s" % (name, tb.milter_log()[-3000:]))
                print("--- %s Postfix log (tail)\n%s" % (name, mx.log()[-2000:]))
    finally:
        tb1.close()
        tb2.close()
        dns.close()
    print("4 cases, %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
