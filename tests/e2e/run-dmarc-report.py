#!/usr/bin/python3
"""End to end: DMARC aggregate reports from a day of bed traffic. The
daemon (dmarc_history set) behind the private Postfix judges messages from
domains with DMARC records (passing, rejected, quarantined, p=none) and
from one without; SIGTERM must leave every row stored; then
`milter-policy dmarc-report` writes one report per policy domain for
today, which must be gzip'd under the RFC's file name, well-formed for
xmllint, follow RFC 7489 Appendix C (tests/dmarc_xml.py, written from the
schema) and count exactly the messages sent. The same history given twice
(as two MTAs' files would be) doubles every count. With --send, through
the bed's own Postfix (sendmail -t), each report reaches its rua=
addresses - in the policy domain's organisational domain, or verified by
the external destination record - as a gzip'd attachment, and never an
unverified address or one whose !size is smaller than the report.
Usage: run-dmarc-report.py BINARY
"""
import glob
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dmarc_xml  # noqa: E402
from helpers import CLIENT, Fail, check, msg, reply, send  # noqa: E402
from postfix import Postfix  # noqa: E402
from testbed import HERE, Testbed  # noqa: E402

DNS = [
    ("sender.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"'),
    ("dmarcrej.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"'),
    ("_dmarc.dmarcrej.example", "TXT", '"v=DMARC1; p=reject; rua=mailto:agg@dmarcrej.example,'
     'mailto:reports@collector.example!50k,mailto:x@unverified.example,mailto:tiny@dmarcrej.example!10"'),
    ("dmarcrej.example._report._dmarc.collector.example", "TXT", '"v=DMARC1"'),
    ("_dmarc.dmarcq.example", "TXT", '"v=DMARC1; p=quarantine; adkim=s; pct=100"'),
    ("_dmarc.dmarcnone.example", "TXT", '"v=DMARC1; p=none; rua=mailto:agg@dmarcnone.example"'),
]
# (MAIL FROM, From, what the end of data must say, times)
TRAFFIC = [
    ("news@dmarcrej.example", "News <news@dmarcrej.example>", "250", 3),
    ("alice@sender.example", "News <news@dmarcrej.example>", "550", 2),
    ("q@sender.example", "Shop <x@dmarcq.example>", "250", 1),
    ("alice@sender.example", "News <x@dmarcnone.example>", "250", 2),
    ("alice@sender.example", "Alice <alice@sender.example>", "250", 1),  # no record: no row
]
# (source, disposition, dkim, spf, reason): a passing message has no
# reason, nor one handled as its domain asked
WANT = {
    "dmarcrej.example": {(CLIENT, "none", "fail", "pass", None): 3,
                         (CLIENT, "reject", "fail", "fail", None): 2},
    "dmarcq.example": {(CLIENT, "quarantine", "fail", "fail", None): 1},
    "dmarcnone.example": {(CLIENT, "none", "fail", "fail", None): 2},
}


def reports(tb, out, histories):
    os.makedirs(out, exist_ok=True)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    args = [tb.binary, "-c", tb.conf, "dmarc-report", "--from", day, "--to", day, "--out", out]
    for h in histories:
        args += ["--history", h]
    p = subprocess.run(args, capture_output=True, text=True)
    check(p.returncode == 0, "dmarc-report: exit %d %s" % (p.returncode, p.stderr))
    got = {}
    for path in sorted(glob.glob(os.path.join(out, "*.xml.gz"))):
        name = os.path.basename(path)
        check(re.match(r"^mx\.e2e\.example![a-z.]+![0-9]+![0-9]+\.xml\.gz$", name), "file name %s" % name)
        xml = gzip.open(path).read()
        x = subprocess.run(["xmllint", "--noout", "-"], input=xml, capture_output=True)
        check(x.returncode == 0, "xmllint: %s" % x.stderr.decode())
        problems = dmarc_xml.check(xml)
        check(not problems, "%s: %s" % (name, problems))
        domain, c = dmarc_xml.counts(xml)
        check(name.split("!")[1] == domain, "%s holds %s" % (name, domain))
        got[domain] = c
    return got, p.stdout


def send_checks(tb, pf, history):
    # the milter is stopped: the reports go through Postfix without it
    subprocess.run(["postconf", "-c", pf.cfg, "-e", "non_smtpd_milters="], check=True)
    subprocess.run(["postfix", "-c", pf.cfg, "reload"], check=True, capture_output=True)
    tb.clear_sink()
    day = time.strftime("%Y-%m-%d", time.gmtime())
    out = tb.path("reports-sent")
    os.mkdir(out)
    p = subprocess.run([tb.binary, "-c", tb.conf, "dmarc-report", "--from", day, "--to", day,
                        "--out", out, "--history", history, "--send"],
                       capture_output=True, text=True, env=dict(os.environ, MAIL_CONFIG=pf.cfg))
    check(p.returncode == 0, "dmarc-report --send: exit %d %s%s" % (p.returncode, p.stdout, p.stderr))
    said = p.stdout
    for line in ("  agg@dmarcrej.example: sent", "  reports@collector.example: sent",
                 "  agg@dmarcnone.example: sent",
                 "  x@unverified.example: another domain, which does not accept reports for this one",
                 "  tiny@dmarcrej.example: not sent: larger than the size it accepts"):
        check(line + "\n" in said, "dmarc-report --send said:\n%s(no %r)" % (said, line))
    check("dmarcq.example" in said and "(no rua=: not sent)" in said, "dmarcq: %s" % said)
    msgs = tb.sink_messages(3, timeout=30)
    check(len(msgs) == 3, "%d reports mailed, wanted 3" % len(msgs))
    to = sorted(m["To"] for m in msgs)
    check(to == ["agg@dmarcnone.example", "agg@dmarcrej.example", "reports@collector.example"],
          "mailed to %s" % to)
    for m in msgs:
        subject = m["Subject"]
        check(re.match(r"^Report Domain: dmarc(rej|none)\.example Submitter: mx\.e2e\.example "
                       r"Report-ID: <[0-9]+\.dmarc(rej|none)\.example\.mx\.e2e\.example>$", subject),
              "Subject %r" % subject)
        parts = [x for x in m.walk() if x.get_content_type() == "application/gzip"]
        check(len(parts) == 1, "%d gzip parts" % len(parts))
        check(parts[0].get_filename().endswith(".xml.gz"), "file name %s" % parts[0].get_filename())
        xml = gzip.decompress(parts[0].get_payload(decode=True))
        check(not dmarc_xml.check(xml), "mailed report: %s" % dmarc_xml.check(xml))
    print("ok   --send: 3 reports mailed, the unverified and too-small addresses left out")


def main():
    tb = Testbed(sys.argv[1], "dmarc-report")
    try:
        tb.start_dns(DNS)
        # the daemon writes it as its user: a directory of that user's
        hdir = tb.path("history")
        os.mkdir(hdir)
        shutil.chown(hdir, "nobody")
        history = os.path.join(hdir, "history.db")
        tb.start_milter(os.path.join(HERE, "rules"),
                        extra="dmarc_history = %s\ndmarc_report_email = dmarc@mx.e2e.example\n"
                              "dmarc_report_org = E2E Receiver\n" % history)
        tb.start_sink()
        pf = Postfix(tb, ["example.com"])
        for mail_from, frm, want, n in TRAFFIC:
            for i in range(n):
                t = send(tb, pf, mail_from, "bob@example.com", msg("report %s %d" % (frm, i), frm=frm))
                reply(t.end_of_data(), want, "end of data (%s)" % frm)
        # SIGTERM: every queued row is stored before the daemon exits
        tb.milter.send_signal(signal.SIGTERM)
        check(tb.milter.wait(30) == 0, "milter-policy exit %s" % tb.milter.returncode)
        got, out = reports(tb, tb.path("reports"), [history])
        check(got == WANT, "reports count %s, sent %s" % (got, WANT))
        print(out, end="")
        double = {d: {k: 2 * v for k, v in c.items()} for d, c in WANT.items()}
        got2, _ = reports(tb, tb.path("reports2"), [history, history])
        check(got2 == double, "two histories count %s, wanted %s" % (got2, double))
        print("ok   reports for %d domains, %d messages, structure and counts as sent"
              % (len(got), sum(sum(c.values()) for c in got.values())))
        send_checks(tb, pf, history)
        return 0
    except Fail as e:
        print("FAIL %s" % e)
        print("--- milter-policy log (tail)\n" + tb.milter_log()[-3000:])
        return 1
    finally:
        tb.close()


if __name__ == "__main__":
    sys.exit(main())
