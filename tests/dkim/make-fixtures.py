#!/usr/bin/python3
"""Writes the DKIM test fixtures: messages signed with python3-dkim (the
keys in tests/dkim/keys), as rule cases in tests/cases/dkim/ and as plain
messages in tests/dkim/fixtures/ (the daemon and unbound tests send those).

The output is committed; run this again only to change the fixtures.
Signatures carry t= but no x=, so they never expire.
Usage: make-fixtures.py
"""
import os

import dkim

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KEYS = os.path.join(HERE, "keys")
CASES = os.path.join(ROOT, "cases", "dkim")
FIXTURES = os.path.join(HERE, "fixtures")


def key(name):
    with open(os.path.join(KEYS, name), "rb") as f:
        return f.read().strip()


def message(frm, subject, body=b"Your statement is ready.\r\n"):
    return (b"From: " + frm + b"\r\n"
            b"To: bob@example.com\r\n"
            b"Subject: " + subject + b"\r\n"
            b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <" + subject.replace(b" ", b"-") + b"@test>\r\n"
            b"\r\n" + body)


def sign(msg, sel, dom, k="rsa2048.pem", alg=b"rsa-sha256"):
    return dkim.sign(msg, sel, dom, key(k), signature_algorithm=alg,
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + msg


BANK = b"Bank <alerts@bank.example>"
MESSAGES = {
    # name: (message, what the rules must do, comment); the dkim= result is DKIM_RESULT[name]
    "bank-aligned": (sign(message(BANK, b"statement one"), b"s2048", b"bank.example"),
                     "pass", "Bank mail signed by bank.example itself: aligned, left alone."),
    "bank-subdomain": (sign(message(BANK, b"statement two"), b"sub", b"mail.bank.example"),
                       "pass", "Signed by mail.bank.example: the same organisational domain, aligned."),
    "bank-ed25519": (sign(message(BANK, b"statement three"), b"ed", b"bank.example", "ed25519.key",
                          b"ed25519-sha256"),
                     "pass", "An ed25519-sha256 signature of bank.example: aligned."),
    "bank-esp-only": (sign(message(BANK, b"statement four"), b"esp", b"esp.example"),
                      "tag", "Signed only by a third party (esp.example): passes, but not aligned: tagged."),
    "bank-tampered": (sign(message(BANK, b"statement five"), b"s2048", b"bank.example")
                      .replace(b"Your statement is ready.", b"Your statement is READY."),
                      "tag", "Signed by bank.example, body changed in transit: fail, tagged."),
    "bank-unsigned": (message(BANK, b"statement six"),
                      "tag", "Unsigned mail claiming bank.example: tagged."),
    "bank-sha1": (sign(message(BANK, b"statement seven"), b"s2048", b"bank.example", alg=b"rsa-sha1"),
                  "tag", "rsa-sha1 (RFC 8301): policy, not a pass: tagged."),
    "other-signed": (sign(message(b"Alice <alice@sender.example>", b"hello"), b"esp", b"esp.example"),
                     "esp", "Not bank mail: left alone; the esp.example signature is seen in dkim.domains."),
}

DKIM_RESULT = {"bank-aligned": "pass", "bank-subdomain": "pass", "bank-ed25519": "pass",
               "bank-esp-only": "pass", "bank-tampered": "fail", "bank-unsigned": "none",
               "bank-sha1": "policy", "other-signed": "pass"}

ZONE = """# Keys for the DKIM cases (tests/dkim/keys; written by tests/dkim/make-fixtures.py).
bank.example TXT "v=spf1 ip4:192.0.2.0/24 -all"
s2048._domainkey.bank.example {rsa2048}
sub._domainkey.mail.bank.example {rsa2048}
ed._domainkey.bank.example {ed25519}
esp._domainkey.esp.example {rsa2048}
"""


def txt(rec):
    parts = [rec[i:i + 250] for i in range(0, len(rec), 250)]
    return "TXT " + " ".join('"%s"' % p for p in parts)


def main():
    os.makedirs(CASES, exist_ok=True)
    os.makedirs(FIXTURES, exist_ok=True)
    with open(os.path.join(CASES, "zone.txt"), "w") as f:
        f.write(ZONE.format(rsa2048=txt(key("rsa2048.dns").decode()),
                            ed25519=txt(key("ed25519.dns").decode())))
    for name, (msg, outcome, comment) in MESSAGES.items():
        with open(os.path.join(FIXTURES, name + ".eml"), "wb") as f:
            f.write(msg)
        frm = b"alerts@bank.example" if b"bank.example>" in msg.split(b"\r\n\r\n")[0] else b"alice@sender.example"
        lines = ["# " + comment, "rules: rules", "dns-zone: zone.txt", "client-ip: 192.0.2.1",
                 "mail-from: " + frm.decode(), "rcpt-to: bob@example.com", "expect-action: accept"]
        if outcome == "tag":
            lines.append("expect-rule: unsigned-bank")
            lines.append("expect-subject: [SUSPECT] *")
            lines.append("expect-header: X-Policy-Warning: unsigned mail claiming bank.example")
        else:
            lines.append("expect-no-header: X-Policy-Warning")
        lines.append("expect-header: Authentication-Results: *dkim=%s*" % DKIM_RESULT[name])
        if outcome == "esp":
            lines.append("expect-header: X-Signed-By-ESP: yes")
        with open(os.path.join(CASES, name + ".case"), "wb") as f:
            f.write(("\n".join(lines) + "\n---\n").encode() + msg.replace(b"\r\n", b"\n"))


if __name__ == "__main__":
    main()
