#!/usr/bin/python3
"""End to end: the same milter-policy behind a real Sendmail 8.17 (Debian's,
unpacked into a private root: tests/e2e/sendmail.py), with unbound and
smtp-sink as for Postfix. Sendmail has no XCLIENT, so a client is
127.0.0.1 (SPF none: a loopback client is not checked) - or, for the IPv6
cases, a documentation address the test gives the loopback interface of a
network namespace of its own (the whole bed runs in it): Sendmail then
passes {client_addr} as "IPv6:2001:db8:5::25", as it does for real clients.
Usage: run-sendmail.py BINARY
"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import (AUTHSERV, ar_results, check, delivered, fixture, header_names, msg,  # noqa: E402
                     ipv6_spf_passed,
                     our_ar, rcpts, reply, run, send)
from postfix import Transcript  # noqa: E402
from sendmail import MC, Sendmail  # noqa: E402
from testbed import HERE, Testbed, wait_for  # noqa: E402

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


V6_CLIENTS = ["2001:db8:5::25", "2001:db8:6::1"]


def sm_send(tb, sm, frm, to, data):
    return send(tb, sm, frm, to, data, client=None)


def sm_send6(sm, source, frm, to, data):
    """Over IPv6 to Sendmail on ::1, from source (an address of lo here)."""
    out = subprocess.run(["swaks", "-6", "--server", "::1", "--port", str(sm.port), "--timeout", "60",
                          "--local-interface", source, "--from", frm, "--to", to,
                          "--ehlo", "mail.sender.example", "--data", "-"],
                         input=data, capture_output=True, timeout=120)
    return Transcript(out.stdout.decode("utf-8", "replace") + out.stderr.decode("utf-8", "replace"))


@case
def spf_ipv6_pass(tb, sm):
    t = sm_send6(sm, V6_CLIENTS[0], "a@v6.example", "bob@example.com", msg("v6 pass", frm="a@v6.example"))
    ipv6_spf_passed(tb, t, "a@v6.example", "2001:db8:5::25")


@case
def spf_ipv6_fail_at_mail(tb, sm):
    t = sm_send6(sm, V6_CLIENTS[1], "a@v6.example", "bob@example.com", msg("v6 fail", frm="a@v6.example"))
    reply(t.reply_to("MAIL FROM"), "550 5.7.23 <a@v6.example>... SPF check failed for v6.example",
          "MAIL FROM")


@case
def reject_at_mail(tb, sm):
    t = sm_send(tb, sm, "spam@blocked.example", "bob@example.com", msg("mail"))
    # Sendmail puts the address in front of a milter's text at MAIL and RCPT
    reply(t.reply_to("MAIL FROM"), "550 5.7.1 <spam@blocked.example>... Sender spam@blocked.example refused",
          "MAIL FROM")


@case
def reject_one_rcpt_others_delivered(tb, sm):
    t = sm_send(tb, sm, "alice@sender.example", ["old@example.com", "bob@example.com"], msg("rcpt"))
    reply(t.reply_to("RCPT TO:<old@"), "550 5.1.1 <old@example.com>... Mailbox closed", "RCPT old@")
    reply(t.reply_to("RCPT TO:<bob@"), "250", "RCPT bob@")
    reply(t.end_of_data(), "250", "end of data")
    check(rcpts(delivered(tb)[0]) == ["bob@example.com"], "wrong recipients")


@case
def split_recipients(tb, sm):
    t = sm_send(tb, sm, "alice@sender.example", ["bob@example.com", "carol@example.org"], msg("split"))
    # (but not in front of a 4xx text)
    reply(t.reply_to("RCPT TO:<carol@"),
          "452 4.5.3 Too many recipients for this message; send again in a new transaction",
          "RCPT of a second policy")
    reply(t.end_of_data(), "250", "end of data")
    check(rcpts(delivered(tb)[0]) == ["bob@example.com"], "wrong recipients")


@case
def reject_at_end_of_data(tb, sm):
    t = sm_send(tb, sm, "alice@sender.example", "bob@example.com",
                msg("body", body=b"This has the forbidden phrase in it.\r\n"))
    reply(t.end_of_data(), "550 5.7.1 Message body refused", "end of data")


@case
def dmarc_reject_at_end_of_data(tb, sm):
    # a loopback client: SPF none, nothing aligned, the owner says reject
    t = sm_send(tb, sm, "alice@sender.example", "bob@example.com",
                msg("dmarc reject", frm="News <news@dmarcrej.example>"))
    reply(t.end_of_data(), "550 5.7.1 DMARC policy of dmarcrej.example rejects this message",
          "end of data")
    check(not tb.sink_messages(1, timeout=1), "a refused message was delivered")


@case
def subject_tag_and_headers(tb, sm):
    t = sm_send(tb, sm, "alice@sender.example", "bob@example.com", msg("Offer of the week"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(m["Subject"] == "[SPAM] Offer of the week", "Subject %r" % m["Subject"])
    check(m["X-Policy"] == "example.com", "X-Policy %r" % m["X-Policy"])
    check(ar_results(m) == {"spf": "none", "dkim": "none", "dmarc": "none"}, "A-R %s" % ar_results(m))


@case
def dkim_pass_left_alone(tb, sm):
    t = sm_send(tb, sm, "alerts@bank.example", "bob@example.com", fixture("bank-aligned"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(ar_results(m).get("dkim") == "pass", "A-R %s" % m.get_all("Authentication-Results"))
    check(m["Subject"] == "statement one", "Subject %r" % m["Subject"])


@case
def dkim_fail_tagged(tb, sm):
    t = sm_send(tb, sm, "alerts@bank.example", "bob@example.com", fixture("bank-tampered"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(ar_results(m).get("dkim") == "fail", "A-R %s" % ar_results(m))
    check(m["Subject"] == "[SUSPECT] statement five", "Subject %r" % m["Subject"])


@case
def forged_auth_results_removed(tb, sm):
    data = msg("forged", headers=[
        "Authentication-Results: %s; dkim=pass header.d=bank.example" % AUTHSERV,
        "Authentication-Results: other.example; dkim=pass header.d=other.example"])
    t = sm_send(tb, sm, "alice@sender.example", "bob@example.com", data)
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    ars = m.get_all("Authentication-Results")
    check(len(our_ar(m)) == 1 and "bank.example" not in " ".join(ars), "forged field kept: %s" % ars)
    check(any(a.startswith("other.example;") for a in ars), "the other server's field was removed")


@case
def discard_not_delivered(tb, sm):
    t = sm_send(tb, sm, "x@discard.example", "bob@example.com", msg("discard", frm="x@discard.example"))
    reply(t.end_of_data(), "250", "end of data")
    check(not tb.sink_messages(1, timeout=2), "a discarded message was delivered")


@case
def header_removed(tb, sm):
    t = sm_send(tb, sm, "alice@sender.example", "bob@example.com",
                msg("internal", headers=["X-Internal: secret", "X-Other: kept"]))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check("x-internal" not in header_names(m) and m["X-Other"] == "kept", "headers %s" % m.keys())


@case
def reject_at_helo(tb, sm):
    t = send(tb, sm, "alice@sender.example", "bob@example.com", msg("helo"), client=None,
             helo="bad.helo.example")
    # Sendmail, like Postfix, answers EHLO and gives the milter's HELO
    # refusal at MAIL FROM (without its address prefix)
    reply(t.reply_to("EHLO"), "250", "EHLO")
    reply(t.reply_to("MAIL FROM"), "550 5.7.1 Bad HELO bad.helo.example", "MAIL FROM")


@case
def quarantine_held(tb, sm):
    t = sm_send(tb, sm, "alice@sender.example", "bob@example.com", msg("please quarantine me"))
    reply(t.end_of_data(), "250", "end of data")
    # Sendmail keeps a quarantined message in its queue as hf* (not qf*)
    held = wait_for(lambda: glob.glob(os.path.join(sm.dir, "mqueue", "hf*")), 10)
    check(held, "no quarantined message in the queue: %s" % os.listdir(os.path.join(sm.dir, "mqueue")))
    check(not tb.sink_messages(1, timeout=1), "a quarantined message was delivered")


@case
def docs_show_the_tested_settings(tb, sm):
    with open(os.path.join(HERE, "..", "..", "docs", "sendmail.md")) as f:
        doc = f.read()
    lines = [l for l in MC.splitlines() if "MILTER" in l or "MAIL_FILTER" in l]
    want = "\n".join(l.replace("{{", "{").replace("}}", "}").replace("{socket}", "/run/milter-policy/milter-policy.sock")
                     for l in lines)
    check(len(lines) == 7 and want in doc, "docs/sendmail.md does not show the milter lines the tests use")


def in_own_netns():
    """Runs this script again in a network namespace of its own, with the
    loopback interface up and the IPv6 client addresses on it."""
    if os.environ.get("MP_E2E_NETNS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        for a in V6_CLIENTS:
            subprocess.run(["ip", "-6", "addr", "add", a + "/128", "dev", "lo", "nodad"], check=True)
        return None
    env = dict(os.environ, MP_E2E_NETNS="1")
    return subprocess.run(["unshare", "--net", "--", sys.executable] + sys.argv, env=env).returncode


def main():
    rc = in_own_netns()
    if rc is not None:
        return rc
    tb = Testbed(sys.argv[1], "sendmail")

    def mta():
        tb.start_dns([("v6.example", "TXT", '"v=spf1 ip6:2001:db8:5::/48 -all"'),
                      ("_dmarc.dmarcrej.example", "TXT", '"v=DMARC1; p=reject"')])
        tb.start_milter(os.path.join(HERE, "rules"))
        tb.start_sink()
        return Sendmail(tb)
    return run(tb, mta, CASES)


if __name__ == "__main__":
    sys.exit(main())
