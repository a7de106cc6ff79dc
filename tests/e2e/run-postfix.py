#!/usr/bin/python3
"""End to end: milter-policy behind a real private Postfix, with unbound for
DNS and smtp-sink as the next hop (tests/e2e/testbed.py, postfix.py).

Each case sends with swaks (XCLIENT gives the client address) and asserts
the SMTP reply at the stage where it must come and, for accepted mail, the
header of the message as smtp-sink received it.
Usage: run-postfix.py BINARY
"""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import (AUTHSERV, ar_results, check, delivered, fixture, header_names,  # noqa: E402
                     ipv6_spf_passed,
                     msg, our_ar, rcpts, reply, run, send)
from postfix import MILTER_CF, Postfix  # noqa: E402
from testbed import HERE, Testbed, wait_for  # noqa: E402

DNS = [
    ("sender.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"'),
    ("bank.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"'),
    ("soft.example", "TXT", '"v=spf1 ip4:192.0.2.0/24 ~all"'),
    ("esp.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"'),
    ("v6.example", "TXT", '"v=spf1 ip6:2001:db8:5::/48 -all"'),
    ("dmarcrej.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"'),
    ("_dmarc.dmarcrej.example", "TXT", '"v=DMARC1; p=reject"'),
    ("_dmarc.dmarcq.example", "TXT", '"v=DMARC1; p=quarantine"'),
    ("_dmarc.dmarcnone.example", "TXT", '"v=DMARC1; p=none; rua=mailto:dmarc@dmarcnone.example"'),
]
RELAY = ["example.com", "example.org", "elsewhere.example"]
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


# ---- refusals at each stage ----------------------------------------------

@case
def reject_at_connect(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("connect"), client="203.0.113.5")
    # libmilter cannot reply at connect; the refusal answers the session's
    # first command, and Postfix gives a milter's connect or HELO refusal
    # at MAIL FROM (it always accepts EHLO)
    reply(t.reply_to("EHLO", 2), "250", "EHLO after XCLIENT")
    reply(t.reply_to("MAIL FROM"), "554 5.7.1 Client 203.0.113.5 blocked", "MAIL FROM")
    check(t.reply_to("RCPT") is None, "the session went on to RCPT TO")
    # a decision line like every other (SPEC §6)
    line = wait_for(lambda: [l for l in tb.milter_log().splitlines() if "client=203.0.113.5 " in l
                             and "action=reject stage=connect rule=blocked-net " in l], 5)
    check(line, "no key=value line for the connect refusal")


@case
def reject_at_helo(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("helo"), client=None,
             helo="bad.helo.example")
    reply(t.reply_to("EHLO"), "250", "EHLO")
    reply(t.reply_to("MAIL FROM"), "550 5.7.1 Bad HELO bad.helo.example", "MAIL FROM")


@case
def reject_at_mail(tb, pf):
    t = send(tb, pf, "spam@blocked.example", "bob@example.com", msg("mail"))
    reply(t.reply_to("MAIL FROM"), "550 5.7.1 Sender spam@blocked.example refused", "MAIL FROM")
    # the summary names what decided (SPEC §6: action=, stage=, rule=)
    line = wait_for(lambda: [l for l in tb.milter_log().splitlines() if "from=<spam@blocked.example>" in l
                             and " action=reject stage=mail rule=blocked-sender reply=" in l], 5)
    check(line, "no summary line with action=, stage= and rule=")


@case
def reject_one_rcpt_others_delivered(tb, pf):
    t = send(tb, pf, "alice@sender.example", ["old@example.com", "bob@example.com"], msg("rcpt"))
    reply(t.reply_to("RCPT TO:<old@"), "550 5.1.1 Mailbox closed", "RCPT old@")
    reply(t.reply_to("RCPT TO:<bob@"), "250", "RCPT bob@")
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(rcpts(m) == ["bob@example.com"], "delivered to %s" % rcpts(m))
    # the refused recipient's line and the summary share one id (conn= on
    # the summary when the queue id came later)
    log = tb.milter_log().splitlines()
    refused = [l for l in log if "rcpt=<old@example.com>" in l and "action=reject stage=rcpt" in l]
    check(len(refused) == 1, "refused recipient lines: %s" % refused)
    rid = re.search(r"\bid=(\S+)", refused[0]).group(1)
    summary = wait_for(lambda: [l for l in tb.milter_log().splitlines()
                                if "rcpt=<bob@example.com>" in l and "subject" not in l
                                and ("id=%s " % rid in l or l.endswith("conn=%s" % rid))
                                and "action=accept stage=eom rule=- " in l], 5)
    check(summary, "no summary line linked to id %s: %s" % (rid, refused[0]))


@case
def tempfail_one_rcpt(tb, pf):
    t = send(tb, pf, "alice@sender.example", ["full@example.com", "bob@example.com"], msg("full"))
    reply(t.reply_to("RCPT TO:<full@"), "452 4.2.2 Mailbox full", "RCPT full@")
    reply(t.end_of_data(), "250", "end of data")
    check(rcpts(delivered(tb)[0]) == ["bob@example.com"], "wrong recipients")


@case
def reject_at_end_of_header(tb, pf):
    data = msg("invoice", headers=["MIME-Version: 1.0",
                                   'Content-Type: application/octet-stream; name="invoice.pdf.exe"'])
    t = send(tb, pf, "alice@sender.example", "bob@example.com", data)
    reply(t.reply_to("DATA"), "354", "DATA")
    reply(t.end_of_data(), "550 5.7.1 Executable attachments refused", "end of data")


@case
def reject_at_end_of_data(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com",
             msg("body", body=b"This has the forbidden phrase in it.\r\n"))
    reply(t.end_of_data(), "550 5.7.1 Message body refused", "end of data")


# ---- MIME: attachments (SPEC §11) -----------------------------------------

def mime_message(subject, parts, frm="Alice <alice@sender.example>"):
    """A multipart/mixed message: a text part, then (content type, file
    name, bytes) parts in base64, CRLF line ends."""
    import base64
    head = msg(subject, frm=frm, headers=["MIME-Version: 1.0",
                                          'Content-Type: multipart/mixed; boundary="=b1"'],
               body=b"")
    body = b"--=b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob, files attached.\r\n"
    for ctype, name, data in parts:
        b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
        body += (b"--=b1\r\nContent-Type: " + ctype.encode() + b'; name="' + name.encode() + b'"\r\n'
                 b'Content-Disposition: attachment; filename="' + name.encode() + b'"\r\n'
                 b"Content-Transfer-Encoding: base64\r\n\r\n" + b64)
    return head + body + b"--=b1--\r\n"


def zip_of(entries):
    import io
    import zipfile
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return b.getvalue()


@case
def exe_in_zip_refused_at_end_of_data(tb, pf):
    z = zip_of([("readme.txt", b"read me"), ("tools/setup.exe", b"MZ" + b"\0" * 500)])
    data = mime_message("tools", [("application/zip", "tools.zip", z)])
    t = send(tb, pf, "alice@sender.example", "bob@example.com", data)
    reply(t.reply_to("DATA"), "354", "DATA")
    reply(t.end_of_data(), "550 5.7.1 Executable inside an archive refused", "end of data")


@case
def stripped_attachment_arrives_as_note(tb, pf):
    import dkim
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 8
    scr = b"MZ" + b"\x90" * 3000
    raw = mime_message("screensaver", [("application/pdf", "report.pdf", pdf),
                                       ("application/octet-stream", "fun.scr", scr)],
                       frm="Bank <alerts@bank.example>")
    with open(os.path.join(HERE, "..", "dkim", "keys", "rsa2048.pem"), "rb") as f:
        key = f.read()
    signed = dkim.sign(raw, b"s2048", b"bank.example", key,
                       include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + raw
    t = send(tb, pf, "alerts@bank.example", "bob@example.com", signed)
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    # the DKIM result of the message as received, though its body changed
    check(ar_results(m).get("dkim") == "pass", "A-R %s" % ar_results(m))
    parts = list(m.walk())
    types = [p.get_content_type() for p in parts]
    check(types == ["multipart/mixed", "text/plain", "application/pdf", "text/plain"],
          "parts %s" % types)
    check(parts[1].get_payload(decode=True).strip() == b"Hello Bob, files attached.",
          "text part %r" % parts[1].get_payload(decode=True))
    check(parts[2].get_payload(decode=True) == pdf, "the PDF did not arrive intact")
    check(parts[2].get_filename() == "report.pdf", "PDF name %r" % parts[2].get_filename())
    note = parts[3].get_payload(decode=True).decode()
    check(note == 'The attachment "fun.scr" (application/octet-stream) was removed: '
                  "screensavers are not delivered.", "note %r" % note)
    # the body is what was sent, byte for byte, but for the part replaced
    body = signed.split(b"\r\n\r\n", 1)[1]
    start = body.index(b'Content-Type: application/octet-stream; name="fun.scr"')
    end = body.index(b"\r\n--=b1--")
    want = (body[:start] + b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\nContent-Disposition: inline\r\n\r\n"
            b'The attachment "fun.scr" (application/octet-stream) was removed: '
            b"screensavers are not delivered." + body[end:])
    got = m.raw.split(b"\n\n", 1)[1]
    # (smtp-sink's file ends with blank lines of its own)
    want = want.replace(b"\r\n", b"\n")
    check(got.rstrip(b"\n") == want.rstrip(b"\n"), "the delivered body differs beyond the note: got %r, wanted %r"
          % (got[-400:], want[-400:]))
    line = wait_for(lambda: [l for l in tb.milter_log().splitlines()
                             if "from=<alerts@bank.example>" in l and "stripped=1" in l], 5)
    check(line, "no log line with stripped=1")


@case
def split_recipients(tb, pf):
    t = send(tb, pf, "alice@sender.example", ["bob@example.com", "carol@example.org"], msg("split"))
    reply(t.reply_to("RCPT TO:<carol@"), "452 4.5.3", "RCPT of a second policy")
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(rcpts(m) == ["bob@example.com"], "first transaction to %s" % rcpts(m))
    check(m["X-Policy"] == "example.com", "X-Policy %r" % m["X-Policy"])
    tb.clear_sink()
    # the client retries the deferred recipient in a transaction of its own
    t = send(tb, pf, "alice@sender.example", "carol@example.org", msg("split again"))
    reply(t.end_of_data(), "250", "second transaction")
    m = delivered(tb)[0]
    check(rcpts(m) == ["carol@example.org"] and m["X-Policy"] == "example.org",
          "second transaction: %s %r" % (rcpts(m), m["X-Policy"]))


@case
def null_sender_to_many(tb, pf):
    t = send(tb, pf, "<>", ["a@elsewhere.example", "b@elsewhere.example"], msg("bounce"))
    reply(t.reply_to("RCPT TO:<a@"), "250", "first recipient")
    reply(t.reply_to("RCPT TO:<b@"), "550 5.5.3 A bounce goes to one recipient", "second recipient")


# ---- SPF -----------------------------------------------------------------

@case
def spf_fail_at_mail(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("spf fail"), client="192.0.2.99")
    reply(t.reply_to("MAIL FROM"), "550 5.7.23 SPF check failed for sender.example", "MAIL FROM")


@case
def spf_ipv6_pass(tb, pf):
    # XCLIENT ADDR=IPV6:...: Postfix passes {client_addr} as "IPv6:2001:db8:5::25"
    t = send(tb, pf, "a@v6.example", "bob@example.com", msg("spf v6 pass", frm="a@v6.example"),
             client="IPV6:2001:db8:5::25")
    ipv6_spf_passed(tb, t, "a@v6.example", "2001:db8:5::25")


@case
def spf_ipv6_fail_at_mail(tb, pf):
    t = send(tb, pf, "a@v6.example", "bob@example.com", msg("spf v6 fail", frm="a@v6.example"),
             client="IPV6:2001:db8:6::1")
    reply(t.reply_to("MAIL FROM"), "550 5.7.23 SPF check failed for v6.example", "MAIL FROM")


@case
def spf_temperror_tempfails(tb, pf):
    t = send(tb, pf, "a@broken.example", "bob@example.com", msg("spf temperror"))
    reply(t.reply_to("MAIL FROM"), "451 4.7.24 SPF temporary error for broken.example", "MAIL FROM")


@case
def spf_pass_in_auth_results(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("spf pass"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(ar_results(m).get("spf") == "pass", "A-R %s" % m.get_all("Authentication-Results"))
    props = {(p.type, p.name): p.value for p in our_ar(m)[0].results[0].properties}
    check(props.get(("smtp", "mailfrom")) == "alice@sender.example", "smtp.mailfrom %s" % props)


@case
def spf_softfail_tagged(tb, pf):
    t = send(tb, pf, "a@soft.example", "bob@example.com", msg("spf softfail", frm="a@soft.example"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(ar_results(m).get("spf") == "softfail", "spf %s" % ar_results(m))
    check(m["X-SPF-Softfail"] == "soft.example", "X-SPF-Softfail %r" % m["X-SPF-Softfail"])


@case
def spf_none(tb, pf):
    t = send(tb, pf, "a@nospf.example", "bob@example.com", msg("spf none", frm="a@nospf.example"))
    reply(t.end_of_data(), "250", "end of data")
    check(ar_results(delivered(tb)[0]).get("spf") == "none", "spf not none")


# ---- DKIM ----------------------------------------------------------------

@case
def dkim_pass_left_alone(tb, pf):
    t = send(tb, pf, "alerts@bank.example", "bob@example.com", fixture("bank-aligned"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    res = ar_results(m)
    check(res.get("dkim") == "pass" and res.get("spf") == "pass", "A-R %s" % res)
    check(m["Subject"] == "statement one", "Subject %r" % m["Subject"])
    check("x-policy-warning" not in header_names(m), "warning added to signed mail")


@case
def dkim_fail_tagged(tb, pf):
    t = send(tb, pf, "alerts@bank.example", "bob@example.com", fixture("bank-tampered"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(ar_results(m).get("dkim") == "fail", "A-R %s" % ar_results(m))
    check(m["Subject"] == "[SUSPECT] statement five", "Subject %r" % m["Subject"])
    check(m["X-Policy-Warning"] == "unsigned mail claiming bank.example", "no warning")


@case
def dkim_unsigned_tagged(tb, pf):
    t = send(tb, pf, "alerts@bank.example", "bob@example.com", fixture("bank-unsigned"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(ar_results(m).get("dkim") == "none", "A-R %s" % ar_results(m))
    check(m["Subject"] == "[SUSPECT] statement six", "Subject %r" % m["Subject"])


# ---- DMARC ---------------------------------------------------------------

def our_dmarc(m):
    """The dmarc= part of our Authentication-Results, unfolded."""
    ours = [v for v in m.get_all("Authentication-Results", [])
            if v.strip().lower().startswith(AUTHSERV + ";")]
    check(len(ours) == 1, "Authentication-Results: %s" % m.get_all("Authentication-Results"))
    parts = [p.strip() for p in re.sub(r"\s+", " ", ours[0]).split(";")]
    return [p for p in parts if p.startswith("dmarc=")]


@case
def dmarc_pass_delivered(tb, pf):
    # SPF passes for the From domain itself: aligned
    t = send(tb, pf, "news@dmarcrej.example", "bob@example.com",
             msg("dmarc pass", frm="News <news@dmarcrej.example>"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(our_dmarc(m) == ["dmarc=pass (p=reject dis=none) header.from=dmarcrej.example"],
          "dmarc %s" % our_dmarc(m))


@case
def dmarc_reject_at_end_of_data(tb, pf):
    # SPF passes for sender.example, not the From domain: DMARC fails
    t = send(tb, pf, "alice@sender.example", "bob@example.com",
             msg("dmarc reject", frm="News <news@dmarcrej.example>"))
    reply(t.reply_to("RCPT TO"), "250", "RCPT TO")
    reply(t.end_of_data(), "550 5.7.1 DMARC policy of dmarcrej.example rejects this message",
          "end of data")
    check(not tb.sink_messages(1, timeout=1), "a refused message was delivered")


@case
def dmarc_quarantine_held(tb, pf):
    t = send(tb, pf, "q@sender.example", "bob@example.com",
             msg("dmarc quarantine", frm="Shop <x@dmarcq.example>"))
    reply(t.end_of_data(), "250", "end of data")
    held = wait_for(lambda: [q for q in pf.queue() if q.get("queue_name") == "hold" and
                             q.get("sender") == "q@sender.example"], 10)
    check(held, "nothing held: %s" % pf.queue())
    check(not tb.sink_messages(1, timeout=1), "a quarantined message was delivered")


@case
def dmarc_none_policy_delivered(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com",
             msg("dmarc monitor", frm="News <x@dmarcnone.example>"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(our_dmarc(m) == ["dmarc=fail (p=none dis=none) header.from=dmarcnone.example"],
          "dmarc %s" % our_dmarc(m))
    line = wait_for(lambda: [l for l in tb.milter_log().splitlines()
                             if "from=<alice@sender.example>" in l and " dmarc=fail " in l], 5)
    check(line, "no log line with dmarc=fail")


# ---- header changes ------------------------------------------------------

@case
def subject_tag_and_added_header(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("Offer of the week"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(m["Subject"] == "[SPAM] Offer of the week", "Subject %r" % m["Subject"])
    check(m["X-Policy"] == "example.com", "X-Policy %r" % m["X-Policy"])
    check(len(m.get_all("Subject")) == 1, "Subject added, not changed")


@case
def header_removed(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com",
             msg("internal", headers=["X-Internal: secret-1", "X-Internal: secret-2", "X-Other: kept"]))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check("x-internal" not in header_names(m), "X-Internal still there")
    check(m["X-Other"] == "kept", "X-Other lost")


@case
def forged_auth_results_removed(tb, pf):
    data = msg("forged", headers=[
        "Authentication-Results: %s; spf=pass smtp.mailfrom=forged@bank.example" % AUTHSERV,
        "Authentication-Results: other.example; dkim=pass header.d=other.example",
        "Authentication-Results: MX.E2E.EXAMPLE; dkim=pass header.d=bank.example"])
    t = send(tb, pf, "alice@sender.example", "bob@example.com", data)
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    ars = m.get_all("Authentication-Results")
    check(len(our_ar(m)) == 1, "fields of ours: %s" % ars)
    check(any(a.startswith("other.example;") for a in ars), "the other server's field was removed")
    check("forged" not in " ".join(ars), "a forged field is still there: %s" % ars)
    # ours is the topmost Authentication-Results
    check(ars[0].lower().startswith(AUTHSERV), "ours not on top: %s" % ars)


@case
def bcc_reaches_sink(tb, pf):
    t = send(tb, pf, "alice@sender.example", "audited@example.com", msg("audited"))
    reply(t.end_of_data(), "250", "end of data")
    delivered(tb)

    def all_rcpts():
        return sorted(r for m in tb.sink_messages(1, timeout=0.5) for r in rcpts(m))
    got = wait_for(lambda: all_rcpts() if len(all_rcpts()) >= 2 else None, 10) or all_rcpts()
    check(got == ["archive@example.org", "audited@example.com"], "delivered to %s" % got)


@case
def redirect_reaches_sink(tb, pf):
    t = send(tb, pf, "alice@sender.example", "trap@example.com", msg("trapped"))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(rcpts(m) == ["abuse@example.org"], "delivered to %s" % rcpts(m))


@case
def quarantine_to_hold_queue(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("please quarantine me"))
    reply(t.end_of_data(), "250", "end of data")
    held = wait_for(lambda: [q for q in pf.queue() if q.get("queue_name") == "hold"], 10)
    check(held, "nothing in the hold queue: %s" % pf.queue())
    check(held[0]["recipients"][0]["address"] == "bob@example.com", "held: %s" % held)
    check(not tb.sink_messages(1, timeout=1), "a quarantined message was delivered")


@case
def discard_not_delivered(tb, pf):
    t = send(tb, pf, "x@discard.example", "bob@example.com", msg("discard", frm="x@discard.example"))
    reply(t.end_of_data(), "250", "end of data (a discard looks accepted)")
    check(pf.wait_log("milter triggers DISCARD action; from=<x@discard.example>"),
          "no discard in the mail log")
    check(not tb.sink_messages(1, timeout=1), "a discarded message was delivered")


@case
def dry_run_rule_changes_nothing(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("probe message"))
    reply(t.end_of_data(), "250", "end of data (the dry-run rule would reject)")
    m = delivered(tb)[0]
    check(m["Subject"] == "probe message", "Subject changed")
    check(wait_for(lambda: 'rule=probe dry_run=yes would="reject' in tb.milter_log(), 5),
          "no dry-run log line")


@case
def mode_dry_run_then_enforce(tb, pf):
    n = tb.milter_log().count("reload (signal) done")
    tb.write_conf(tb.conf_text + "mode = dry-run\n")
    subprocess.run([tb.binary, "-c", tb.conf, "reload"], check=True, capture_output=True)
    check(wait_for(lambda: tb.milter_log().count("reload (signal) done") > n, 10), "no reload")
    try:
        t = send(tb, pf, "spam@blocked.example", "bob@example.com", msg("dry mode"))
        reply(t.reply_to("MAIL FROM"), "250", "MAIL FROM in dry-run mode")
        reply(t.end_of_data(), "250", "end of data")
        m = delivered(tb)[0]
        check(not our_ar(m) and "x-policy" not in header_names(m), "dry-run mode altered the message")
    finally:
        tb.write_conf(tb.conf_text)
        n = tb.milter_log().count("reload (signal) done")
        subprocess.run([tb.binary, "-c", tb.conf, "reload"], check=True, capture_output=True)
        wait_for(lambda: tb.milter_log().count("reload (signal) done") > n, 10)
    t = send(tb, pf, "spam@blocked.example", "bob@example.com", msg("enforce again"))
    reply(t.reply_to("MAIL FROM"), "550 5.7.1", "MAIL FROM after going back to enforce")


def set_version(tb, v):
    path = os.path.join(tb.rules, "global.rules")
    text = open(path).read()
    text = re.sub(r'"X-Rules-Version" "v\d+"', '"X-Rules-Version" "%s"' % v, text)
    with open(path, "w") as f:
        f.write(text)


@case
def reload_by_signal(tb, pf):
    n = tb.milter_log().count("reload (signal) done")
    set_version(tb, "v2")
    os.kill(int(open(os.path.join(os.path.dirname(tb.socket), "mp.pid")).read()), signal.SIGUSR1)
    check(wait_for(lambda: tb.milter_log().count("reload (signal) done") > n, 10), "no reload on SIGUSR1")
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("version check"))
    reply(t.end_of_data(), "250", "end of data")
    check(delivered(tb)[0]["X-Rules-Version"] == "v2", "the new rules did not apply")


@case
def reload_on_file_change(tb, pf):
    n = tb.milter_log().count("reload (files changed) done")
    set_version(tb, "v3")
    # a modification time the stamp cannot have seen, however coarse the
    # file system's clock
    path = os.path.join(tb.rules, "global.rules")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    check(wait_for(lambda: tb.milter_log().count("reload (files changed) done") > n, 10),
          "no reload after the rule file changed")
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("version check"))
    reply(t.end_of_data(), "250", "end of data")
    check(delivered(tb)[0]["X-Rules-Version"] == "v3", "the changed rules did not apply")


# ---- other paths ---------------------------------------------------------

@case
def authenticated_client_accepted_early(tb, pf):
    # XCLIENT LOGIN= makes Postfix send {auth_authen}: accepted at MAIL FROM,
    # even from a blocked sender domain, and no checks run
    t = send(tb, pf, "spam@blocked.example", "bob@example.com", msg("authenticated"),
             extra=["--xclient-login", "alice"])
    reply(t.reply_to("MAIL FROM"), "250", "MAIL FROM")
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check("x-policy" not in header_names(m), "rules ran after an early accept")
    check(not our_ar(m), "checks ran after an early accept: %s" % m.get_all("Authentication-Results"))


@case
def sendmail_command_through_non_smtpd_milters(tb, pf):
    out = pf.sendmail("alice@sender.example", ["bob@example.com"], msg("Offer by sendmail"))
    check(out.returncode == 0, "sendmail: %s" % out.stderr)
    m = delivered(tb)[0]
    check(m["Subject"] == "[SPAM] Offer by sendmail", "Subject %r" % m["Subject"])
    check(m["X-Policy"] == "example.com", "X-Policy %r" % m["X-Policy"])


@case
def eight_bit_message_intact(tb, pf):
    body = "Grüße aus Köln – naïve café\r\n".encode("utf-8") + bytes(range(0x80, 0x100)) + b"\r\n"
    data = msg("eight bit", headers=["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                                     "Content-Transfer-Encoding: 8bit"], body=body)
    t = send(tb, pf, "alice@sender.example", "bob@example.com", data)
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    # smtp-sink stores lines with LF ends
    check(body.replace(b"\r\n", b"\n") in m.raw, "the 8-bit body changed on the way")


@case
def ten_megabyte_message(tb, pf):
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv\r\n"
    body = line * (10 * 1024 * 1024 // len(line) + 1)
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("big", body=body))
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(b"\n\n" + body.replace(b"\r\n", b"\n") in m.raw, "the body did not arrive whole (%d bytes)" % len(m.raw))
    check(m["X-Policy"] == "example.com", "rules did not apply to the big message")


@case
def log_line_per_message(tb, pf):
    t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("logged"))
    reply(t.end_of_data(), "250", "end of data")
    delivered(tb)
    line = wait_for(lambda: [l for l in tb.milter_log().splitlines()
                             if "from=<alice@sender.example>" in l and "action=accept" in l
                             and "spf=pass" in l and "policy=example.com" in l], 5)
    check(line, "no log line in the documented form")
    # the queue id Postfix gave the message is the id= of the log line
    qid = re.search(r"queued as ([0-9A-F]+)", t.end_of_data()).group(1)
    check(any(("id=%s " % qid) in l for l in line), "log line without the queue id %s" % qid)


@case
def docs_show_the_tested_settings(tb, pf):
    with open(os.path.join(HERE, "..", "..", "docs", "postfix.md")) as f:
        doc = f.read()
    check(MILTER_CF.format(socket="/milter-policy/milter-policy.sock") in doc,
          "docs/postfix.md does not show the main.cf lines the tests use")


def main():
    tb = Testbed(sys.argv[1], "postfix")

    def mta():
        tb.start_dns(DNS)
        tb.start_milter(os.path.join(HERE, "rules"))
        tb.start_sink()
        return Postfix(tb, RELAY)
    return run(tb, mta, CASES)


if __name__ == "__main__":
    sys.exit(main())
