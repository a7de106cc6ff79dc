#!/usr/bin/python3
"""Fault and load through the real Postfix bed (issue 10): milter-policy
behind a private Postfix, unbound for DNS, smtp-sink as the next hop.

- reload under load: 2,000 messages from 10 sessions while the rules are
  reloaded every 100 ms, alternating a good set (a new version each time)
  and a broken one: every message is judged by one complete rule set (its
  three X-Set-* headers carry one version) and none is lost;
- the DNS server killed mid-run: SPF is temperror within dns_timeout and
  the message is tempfailed by the rules; no thread is left stuck;
- the milter killed with SIGKILL mid-run: Postfix tempfails
  (milter_default_action = tempfail, as docs/postfix.md says), nothing is
  accepted unjudged, and a restart recovers;
- 200 concurrent sessions, every message judged and delivered.

Usage: run-load.py BINARY
"""
import os
import signal
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postfix import Postfix  # noqa: E402
from testbed import Testbed, wait_for  # noqa: E402

CLIENT = "198.51.100.7"
DNS_TIMEOUT = 1.0
# one sender domain per message of the DNS phase: nothing of it is cached
DNS_DOMAINS = ["d%d.example" % i for i in range(8)]
DNS = [("sender.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"')] + \
      [(d, "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"') for d in DNS_DOMAINS]


def good_rules(version):
    return ("version 1\n"
            'rule "set-a" { when helo != "" add header "X-Set-A" "%d" }\n'
            'rule "set-b" { when header "Subject" ~ /^load/ add header "X-Set-B" "%d" }\n'
            'rule "set-c" { when spf == pass add header "X-Set-C" "%d" }\n'
            'rule "dns-down" { when spf == temperror tempfail 451 4.4.3 "DNS down" }\n'
            % (version, version, version))


BROKEN = good_rules(0) + 'rule "broken" { when nosuch.field == "x" accept }\n'


class Session:
    """One SMTP session through Postfix, client address given by XCLIENT."""

    def __init__(self, port, timeout=60):
        self.s = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
        self.s.ehlo("mail.sender.example")
        code, text = self.s.docmd("XCLIENT", "ADDR=%s NAME=mail.sender.example" % CLIENT)
        if code != 220:
            raise RuntimeError("XCLIENT: %d %s" % (code, text))
        self.s.ehlo("mail.sender.example")

    def send(self, sender, rcpt, subject):
        """The reply codes to MAIL, RCPT and DATA (None when not reached)."""
        t0 = time.monotonic()
        code, text = self.s.mail(sender)
        self.mail_secs = time.monotonic() - t0
        self.last = (code, text)
        if code != 250:
            self.s.rset()
            return code, None, None
        code2, text = self.s.rcpt(rcpt)
        if code2 != 250:
            self.last = (code2, text)
            self.s.rset()
            return code, code2, None
        body = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nload test\r\n" % (sender, rcpt, subject))
        code3, text = self.s.data(body.encode())
        self.last = (code3, text)
        return code, code2, code3

    def close(self):
        try:
            self.s.quit()
        except Exception:  # the server may be gone already
            pass


class Load:
    def __init__(self, tb, pf):
        self.tb, self.pf = tb, pf
        self.failed = 0

    def check(self, cond, what):
        if not cond:
            raise AssertionError(what)

    def write_rules(self, text):
        path = os.path.join(self.tb.rules, "global.rules")
        with open(path + ".new", "w") as f:
            f.write(text)
        os.rename(path + ".new", path)

    def reload(self):
        os.kill(self.tb.milter.pid, signal.SIGUSR1)

    def delivered(self, n, timeout=60):
        return self.tb.sink_messages(n, timeout)

    # -- reload under load ---------------------------------------------
    def reload_under_load(self, total=2000, sessions=10):
        self.tb.clear_sink()
        stop = threading.Event()
        versions = []

        def reloader():
            k = 1
            while not stop.is_set():
                if k % 2:
                    versions.append(k)
                    self.write_rules(good_rules(k))
                else:
                    self.write_rules(BROKEN)
                self.reload()
                k += 1
                time.sleep(0.1)
        codes = []
        lock = threading.Lock()

        def sender(idx, count):
            s = Session(self.pf.port)
            try:
                for i in range(count):
                    r = s.send("a%d.%d@sender.example" % (idx, i), "bob@example.com", "load %d %d" % (idx, i))
                    with lock:
                        codes.append(r)
            finally:
                s.close()
        r = threading.Thread(target=reloader)
        r.start()
        threads = [threading.Thread(target=sender, args=(i, total // sessions)) for i in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        r.join()
        self.check(len(codes) == total, "%d messages sent, wanted %d" % (len(codes), total))
        bad = [c for c in codes if c != (250, 250, 250)]
        self.check(not bad, "%d messages not accepted, e.g. %s" % (len(bad), bad[:3]))
        msgs = self.delivered(total, 120)
        self.check(len(msgs) == total, "%d of %d messages delivered" % (len(msgs), total))
        seen = set()
        for m in msgs:
            a, b, c = m["X-Set-A"], m["X-Set-B"], m["X-Set-C"]
            self.check(a is not None and a == b == c,
                       "a message judged by more than one rule set: %s %s %s" % (a, b, c))
            seen.add(a)
        failures = self.tb.milter_log().count("the rules in force stay")
        self.check(len(seen) >= 2 and failures >= 2,
                   "reloads did not happen under load (versions %s, failed reloads %d)"
                   % (sorted(seen), failures))
        print("     %d messages, %d rule versions seen, %d failed reloads" % (total, len(seen), failures))
        # the last good set stays in force
        self.write_rules(good_rules(9999))
        self.reload()
        wait_for(lambda: "reload (signal) done" in self.tb.milter_log().splitlines()[-1], 5)

    # -- DNS server killed ---------------------------------------------
    def dns_killed(self):
        self.tb.clear_sink()
        unbound = [p for n, p in self.tb.procs if n == "unbound"][0]
        unbound.kill()
        unbound.wait()
        for d in DNS_DOMAINS:
            s = Session(self.pf.port)
            try:
                r = s.send("x@%s" % d, "bob@example.com", "load dns")
                self.check(r[0] == 451 and b"4.4.3 DNS down" in s.last[1],
                           "MAIL FROM with DNS down: %s %s" % (r, s.last))
                self.check(s.mail_secs <= DNS_TIMEOUT + 1.5,
                           "SPF took %.2f s with dns_timeout %.1f s" % (s.mail_secs, DNS_TIMEOUT))
            finally:
                s.close()
        # nothing stuck: a message that needs no new DNS goes through at once
        s = Session(self.pf.port)
        try:
            r = s.send("y@sender.example", "bob@example.com", "load after dns")
            self.check(r == (250, 250, 250), "after the DNS failure: %s %s" % (r, s.last))
        finally:
            s.close()
        self.check(self.delivered(1)[0]["X-Set-C"] == "9999", "the message after the DNS failure")
        # the server back, on the same port
        self.tb.spawn("unbound-again", ["unbound", "-c", self.tb.path("unbound.conf")])
        self.check(wait_for(lambda: self.tb._udp_listening(self.tb.dns_port)), "unbound did not restart")

    # -- milter killed ---------------------------------------------------
    def milter_killed(self):
        self.tb.clear_sink()
        results = []
        lock = threading.Lock()
        stop = threading.Event()

        def sender(idx):
            i = 0
            while not stop.is_set():
                try:
                    s = Session(self.pf.port, timeout=30)
                    r = s.send("k%d.%d@sender.example" % (idx, i), "bob@example.com", "load kill")
                    s.close()
                except (smtplib.SMTPException, OSError) as e:
                    r = ("error", str(e))
                with lock:
                    results.append(r)
                i += 1
        threads = [threading.Thread(target=sender, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        def count():
            with lock:
                return len(results)
        # mail flowing, then killed; sessions go on while it is down
        self.check(wait_for(lambda: count() >= 8, 30), "no mail flowed before the kill")
        self.tb.milter.send_signal(signal.SIGKILL)
        self.tb.milter.wait()
        killed = count()
        self.check(wait_for(lambda: count() >= killed + 8, 30), "no session ended while the milter was down")
        during = count()
        # restart: the stale socket is replaced
        self.tb.milter = self.tb.spawn("milter-restart", [self.tb.binary, "-c", self.tb.conf, "run", "-f"])
        self.check(wait_for(lambda: "ready" in self.tb.read("milter-restart.log") or
                            "start" in self.tb.read("milter-restart.log"), 15),
                   "milter-policy did not restart: " + self.tb.read("milter-restart.log"))

        def accepted_since_restart():
            with lock:
                return any(r == (250, 250, 250) for r in results[during:])
        wait_for(accepted_since_restart, 30)  # asserted below, with the rest
        stop.set()
        for t in threads:
            t.join()
        accepted = [r for r in results if r == (250, 250, 250)]
        refused = [r for r in results if r != (250, 250, 250)]
        self.check(refused, "no message was tempfailed while the milter was down")
        for r in refused:
            # Postfix with milter_default_action = tempfail: 451 4.7.1, at
            # MAIL FROM (or at the next command of a session it refused)
            codes = [c for c in r if isinstance(c, int)]
            self.check(r[0] == "error" or (codes and all(c in (250, 421, 451, 452) for c in codes)
                                           and any(400 <= c < 500 for c in codes)),
                       "a message was refused permanently or oddly: %s" % (r,))
        msgs = self.delivered(len(accepted), 60)
        self.check(len(msgs) == len(accepted), "%d accepted, %d delivered" % (len(accepted), len(msgs)))
        for m in msgs:
            self.check(m["X-Set-A"] is not None and m["X-Set-C"] is not None,
                       "a message was accepted unjudged: %s" % m["Subject"])
        # after the restart mail flows again
        with lock:
            after = results[during:]
        self.check(any(r == (250, 250, 250) for r in after), "no message accepted after the restart")
        print("     %d messages: %d accepted (all judged), %d tempfailed while down"
              % (len(results), len(accepted), len(refused)))

    # -- 200 concurrent sessions ----------------------------------------
    def concurrent(self, n=200):
        self.tb.clear_sink()
        barrier = threading.Barrier(n)
        results = [None] * n

        def one(i):
            try:
                s = Session(self.pf.port, timeout=120)
                barrier.wait(60)
                results[i] = s.send("c%d@sender.example" % i, "bob@example.com", "load concurrent %d" % i)
                s.close()
            except Exception as e:  # a refused or broken session
                results[i] = ("error", str(e))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bad = [r for r in results if r != (250, 250, 250)]
        self.check(not bad, "%d of %d sessions failed, e.g. %s" % (len(bad), n, bad[:3]))
        msgs = self.delivered(n, 120)
        self.check(len(msgs) == n and all(m["X-Set-C"] == "9999" for m in msgs),
                   "%d of %d delivered and judged" % (len(msgs), n))


def main():
    tb = Testbed(sys.argv[1], "load")
    failed = 0
    try:
        tb.start_dns(DNS)
        rules_src = os.path.join(tb.dir, "rules-src")
        os.mkdir(rules_src)
        with open(os.path.join(rules_src, "global.rules"), "w") as f:
            f.write(good_rules(1))
        tb.start_milter(rules_src, extra="dns_timeout = %ds\nreload_check_interval = 0\n" % DNS_TIMEOUT)
        tb.start_sink()
        pf = Postfix(tb, ["example.com"], extra=[
            "default_process_limit = 300",
            "smtpd_client_connection_count_limit = 0",
            "smtpd_client_connection_rate_limit = 0",
            "smtpd_client_message_rate_limit = 0",
            "smtp_destination_concurrency_limit = 50",
        ])
        load = Load(tb, pf)
        for name in ("reload_under_load", "concurrent", "dns_killed", "milter_killed"):
            t0 = time.monotonic()
            try:
                getattr(load, name)()
                print("ok   %s (%.1f s)" % (name, time.monotonic() - t0))
            except Exception as e:  # an assertion, or the bed broke
                failed += 1
                print("FAIL %s: %s" % (name, e))
            sys.stdout.flush()
        if failed:
            print("--- milter-policy log (tail)\n" + tb.milter_log()[-3000:])
            print("--- Postfix log (tail)\n" + pf.log()[-3000:])
    finally:
        tb.close()
    print("%d passed, %d failed" % (4 - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
