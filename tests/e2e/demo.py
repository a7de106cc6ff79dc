#!/usr/bin/python3
"""The demo behind a real Postfix (scripts/demo): unbound with a few SPF
records and DKIM keys, milter-policy with the shipped example rules
(rules/), a private Postfix relaying to smtp-sink, all on loopback in one
directory; a handful of messages sent with swaks, each SMTP reply and the
delivered header printed; then everything stopped.
Usage: demo.py BINARY
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import fixture, msg, send  # noqa: E402
from postfix import Postfix  # noqa: E402
from testbed import TESTS, Testbed, free_port, port_open  # noqa: E402

ROOT = os.path.dirname(TESTS)
AUTHSERV = "mx.demo.example"
BOLD, OFF = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
SINK_FIELDS = ("x-client-addr", "x-client-proto", "x-helo-args", "x-mail-args", "x-rcpt-args",
               "received")


def title(text):
    print("\n%s== %s%s" % (BOLD, text, OFF))


def dialogue(t):
    """The commands after XCLIENT and their replies, one line each."""
    started = False
    for i, (who, line) in enumerate(t.lines):
        if who != "C":
            continue
        cmd = line.split(":", 1)[0] if line.startswith(("MAIL", "RCPT")) else line
        if cmd.startswith(("MAIL", "RCPT")):
            started = True
            print("   %-40s -> %s" % (line[:40], t._reply_after(i)))
        elif cmd == "DATA" and started:
            print("   %-40s -> %s" % ("DATA ... end of message", t.end_of_data()))


def show_delivered(tb):
    got = tb.sink_messages(1, timeout=10)
    if not got:
        print("   (nothing delivered)")
        return
    for m in got:
        to = [v.split()[0] for v in m.get_all("X-Rcpt-Args", [])]
        print("   delivered to %s; its header:" % ", ".join(to))
        for k, v in m.items():
            if k.lower() not in SINK_FIELDS:
                print("     %s: %s" % (k, re.sub(r"\n[ \t]+", "\n         ", v)))


def main():
    binary = sys.argv[1]
    tb = Testbed(binary, "demo")
    try:
        tb.start_dns([("sender.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"'),
                      ("bank.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"')])
        mport = free_port()
        tb.start_milter(os.path.join(ROOT, "rules"), authserv=AUTHSERV,
                        extra="metrics_listen = 127.0.0.1:%d\n" % mport)
        tb.start_sink()
        pf = Postfix(tb, ["example.com"])
        print("running in %s: unbound on 127.0.0.1:%d, milter-policy on %s,\n"
              "Postfix on 127.0.0.1:%d (smtpd_milters), smtp-sink on 127.0.0.1:%d"
              % (tb.dir, tb.dns_port, tb.socket, pf.port, tb.sink_port))

        def demo(text, frm, to, data, client="198.51.100.7"):
            title(text)
            tb.clear_sink()
            print("   swaks --xclient-addr %s --from %s --to %s" % (client, frm, ",".join(to)))
            dialogue(send(tb, pf, frm, to, data, client=client))
            return tb

        demo("Clean mail: accepted at the end of the message, with Authentication-Results",
             "alice@sender.example", ["bob@example.com"], msg("lunch on Friday?"))
        show_delivered(tb)
        demo("SPF forgery (sender.example does not list 203.0.113.9): refused at MAIL FROM",
             "alice@sender.example", ["bob@example.com"], msg("lunch on Friday?"), client="203.0.113.9")
        demo("An executable attachment: refused at the end of the message",
             "alice@sender.example", ["bob@example.com"],
             msg("invoice", headers=["MIME-Version: 1.0",
                                     'Content-Type: application/octet-stream; name="invoice.pdf.exe"'],
                 body=b"TVqQAAMAAAAEAAAA\r\n"))
        docm = (b"--b1\r\nContent-Type: text/plain\r\n\r\nThe budget, see attached.\r\n"
                b"--b1\r\nContent-Type: application/vnd.ms-excel.sheet.macroEnabled.12\r\n"
                b'Content-Disposition: attachment; filename="budget.xlsm"\r\n'
                b"Content-Transfer-Encoding: base64\r\n\r\nUEsDBAoAAAAAAA==\r\n--b1--\r\n")
        demo("An Office document with macros to example.com: stripped, the rest delivered",
             "alice@sender.example", ["bob@example.com"],
             msg("budget", headers=["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"'],
                 body=docm))
        got = tb.sink_messages(1, timeout=10)
        for m in got:
            print("   delivered; its parts:")
            for part in m.walk():
                if not part.is_multipart():
                    text = part.get_payload(decode=True).decode("utf-8", "replace").strip()
                    print("     %s: %s" % (part.get_content_type(), text))
        demo("Unsigned mail claiming bank.example: Subject tagged, warning header, score 6 -> X-Spam-Flag",
             "alerts@bank.example", ["bob@example.com"],
             msg("Your account is locked", frm="Bank <alerts@bank.example>"))
        show_delivered(tb)
        demo("Bank mail with a valid bank.example DKIM signature: left alone",
             "alerts@bank.example", ["bob@example.com"], fixture("bank-aligned"))
        show_delivered(tb)
        demo("A closed mailbox: that recipient refused at RCPT TO, the other one gets the message",
             "alice@sender.example", ["old-sales@example.com", "bob@example.com"], msg("quote"))
        show_delivered(tb)

        title("milter-policy status (its counters, from metrics_listen 127.0.0.1:%d)" % mport)
        st = subprocess.run([binary, "-c", tb.conf, "status"], capture_output=True, text=True)
        for line in (st.stdout or st.stderr).splitlines():
            print("   " + line)
        title("milter-policy's log lines for these messages")
        for line in tb.milter_log().splitlines():
            if " id=" in line and ("action=" in line):
                print("   " + line.split(": info: ", 1)[-1])
    finally:
        ports = [p for p in (getattr(tb, "dns_port", None), getattr(tb, "sink_port", None),
                             getattr(locals().get("pf"), "port", None), locals().get("mport")) if p]
        tb.close()
    title("Stopped")
    left = [p for p in ports if port_open(p)]
    procs = subprocess.run(["pgrep", "-f", tb.dir], capture_output=True, text=True).stdout.split()
    print("   unbound, milter-policy, Postfix and smtp-sink stopped; %s; %s"
          % ("ports %s still open" % left if left else "no port left open",
             "processes %s left" % procs if procs else "no process left"))
    return 1 if left or procs else 0


if __name__ == "__main__":
    sys.exit(main())
