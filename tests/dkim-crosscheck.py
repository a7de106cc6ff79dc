#!/usr/bin/python3
"""DKIM cross-check: milter-policy (libopendkim over its DNS module) against
python3-dkim (dkimpy, an independent implementation).

Messages are signed here with dkimpy (rsa-sha256 at 512, 1024 and 2048
bits, ed25519-sha256, rsa-sha1, every canonicalization, l=, several
signatures) with the keys in tests/dkim/keys, some are then tampered with,
and the keys are published in a static zone (some revoked, missing or
TEMPFAIL). For every message:
  - milter-policy's result for each signature must be the expected one;
  - dkimpy's own verification must agree on pass / not pass, except where
    RFC 8301 makes us stricter (rsa-sha1, listed in DELIBERATE);
  - the Authentication-Results field milter-policy adds must parse with
    python3-authres and carry the same results, d= and s=.
Then every message is verified again by DKIM-THREADS (tests/dkim-threads.c)
from 16 threads at once, 2,000 verifications, each compared with the
expected results.  Usage: dkim-crosscheck.py BINARY DKIM-THREADS
"""
import json
import os
import subprocess
import sys
import tempfile

import authres
import dkim

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "dkim", "keys")


def key(name):
    with open(os.path.join(KEYS, name), "rb") as f:
        return f.read().strip()


PRIV = {"rsa2048": key("rsa2048.pem"), "rsa1024": key("rsa1024.pem"),
        "rsa512": key("rsa512.pem"), "ed25519": key("ed25519.key")}
PUB = {k: key(k + ".dns").decode() for k in PRIV}

# selector -> published key record ("" revoked, None absent, "TEMPFAIL")
ZONE = {
    "s2048._domainkey.bank.example": PUB["rsa2048"],
    "s1024._domainkey.bank.example": PUB["rsa1024"],
    "s512._domainkey.bank.example": PUB["rsa512"],
    "ed._domainkey.bank.example": PUB["ed25519"],
    "esp._domainkey.esp.example": PUB["rsa2048"],
    "revoked._domainkey.bank.example": "v=DKIM1; k=rsa; p=",
    "broken._domainkey.bank.example": "TEMPFAIL",
    # the 1024-bit key published under the 2048-bit selector's twin
    "wrongkey._domainkey.bank.example": PUB["rsa1024"],
    "garbage._domainkey.bank.example": "v=DKIM1; k=rsa; p=bm90IGEga2V5",
}

BASE = (b"From: Bank <alerts@bank.example>\r\n"
        b"To: bob@example.com\r\n"
        b"Subject: Your statement is ready\r\n"
        b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
        b"Message-ID: <stmt-1@bank.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
        b"Dear Bob,\r\n"
        b"\r\n"
        b"your statement is ready.   Trailing spaces here   \r\n"
        b"\r\n"
        b"\r\n")

HDRS = [b"from", b"to", b"subject", b"date", b"message-id"]


def sign(msg, sel, dom, k, alg=b"rsa-sha256", canon=(b"relaxed", b"simple"), length=False,
         headers=None):
    return dkim.sign(msg, sel, dom, PRIV[k], canonicalize=canon, signature_algorithm=alg,
                     length=length, include_headers=headers or HDRS) + msg


def s(name, **kw):
    """A message signed once with selector name of bank.example."""
    k = {"s2048": "rsa2048", "s1024": "rsa1024", "s512": "rsa512", "ed": "ed25519"}.get(name, "rsa2048")
    return lambda m: sign(m, name.encode(), b"bank.example", k, **kw)


def tamper_header(m):
    return m.replace(b"Subject: Your statement is ready", b"Subject: Your statement is READY")


def tamper_body(m):
    return m.replace(b"Dear Bob,", b"Dear Rob,")


def append_body(m):
    return m + b"Unsigned tail added by a list.\r\n"


def odd_spacing(m):
    return m.replace(b"Subject: Your", b"Subject:\tYour").replace(b"To: bob", b"To:   bob")


def folded(m):
    return m.replace(b"Subject: Your statement", b"Subject: Your\r\n statement")


def chain(*fs):
    def run(m):
        for f in fs:
            m = f(m)
        return m
    return run


def broken_sig(m):
    return b"DKIM-Signature: v=1; a=rsa-sha256; d=bank.example; s=s2048; h=from; bh=x;\r\n" + m


# (name, build(message) -> message, expected milter-policy results per signature in header order)
CASES = [
    ("rsa2048-relaxed-simple", s("s2048"), ["pass"]),
    ("rsa2048-simple-simple", s("s2048", canon=(b"simple", b"simple")), ["pass"]),
    ("rsa2048-relaxed-relaxed", s("s2048", canon=(b"relaxed", b"relaxed")), ["pass"]),
    ("rsa2048-simple-relaxed", s("s2048", canon=(b"simple", b"relaxed")), ["pass"]),
    ("rsa1024", s("s1024"), ["pass"]),
    ("ed25519", s("ed", alg=b"ed25519-sha256"), ["pass"]),
    ("ed25519-simple", s("ed", alg=b"ed25519-sha256", canon=(b"simple", b"simple")), ["pass"]),
    ("l-tag-appended", chain(s("s2048", length=True), append_body), ["pass"]),
    ("no-l-tag-appended", chain(s("s2048"), append_body), ["fail"]),
    ("tampered-header", chain(s("s2048"), tamper_header), ["fail"]),
    ("tampered-header-simple", chain(s("s2048", canon=(b"simple", b"simple")), tamper_header), ["fail"]),
    ("tampered-body", chain(s("s2048"), tamper_body), ["fail"]),
    ("tampered-body-ed25519", chain(s("ed", alg=b"ed25519-sha256"), tamper_body), ["fail"]),
    ("odd-spacing-simple", lambda m: s("s2048", canon=(b"simple", b"simple"))(odd_spacing(m)), ["pass"]),
    ("folded-simple", lambda m: s("s2048", canon=(b"simple", b"simple"))(folded(m)), ["pass"]),
    ("folded-relaxed", lambda m: s("s2048")(folded(m)), ["pass"]),
    ("refolded-after-relaxed", chain(s("s2048"), folded), ["pass"]),
    ("refolded-after-simple", chain(s("s2048", canon=(b"simple", b"simple")), folded), ["fail"]),
    ("revoked-key", s("revoked"), ["permerror"]),
    ("missing-key", s("nokey"), ["permerror"]),
    ("garbage-key", s("garbage"), ["permerror"]),
    ("dns-temperror", s("broken"), ["temperror"]),
    ("wrong-key", s("wrongkey"), ["fail"]),
    ("rsa-sha1", s("s2048", alg=b"rsa-sha1"), ["policy"]),
    ("rsa512", s("s512"), ["policy"]),
    ("two-signatures", chain(s("s2048"), lambda m: sign(m, b"esp", b"esp.example", "rsa2048")),
     ["pass", "pass"]),
    ("tampered-then-resigned", chain(s("s2048"), tamper_body,
                                     lambda m: sign(m, b"esp", b"esp.example", "rsa2048")),
     ["pass", "fail"]),
    ("ed25519-and-rsa", chain(s("ed", alg=b"ed25519-sha256"), s("s2048")), ["pass", "pass"]),
    ("pass-and-revoked", chain(s("revoked"), s("s2048")), ["pass", "permerror"]),
    ("six-signatures", chain(*[s("s2048")] * 6), ["pass"] * 5),
    ("signature-syntax-error", chain(s("s2048"), broken_sig), ["neutral", "pass"]),
    ("unsigned", lambda m: m, []),
]

# dkimpy accepts rsa-sha1 (RFC 8301 says a verifier must not) and verifies
# every signature (we give libopendkim dkim_max_signatures and report the
# message past a limit)
DELIBERATE = {"rsa-sha1", "six-signatures"}


def zone_text():
    lines = []
    for name, rec in ZONE.items():
        if rec == "TEMPFAIL":
            lines.append("%s TEMPFAIL" % name)
        else:
            parts = [rec[i:i + 250] for i in range(0, len(rec), 250)] or [""]
            lines.append("%s TXT %s" % (name, " ".join('"%s"' % p for p in parts)))
    return "\n".join(lines) + "\n"


def dnsfunc(name, timeout=5):
    name = name.decode().rstrip(".")
    rec = ZONE.get(name)
    if rec == "TEMPFAIL":
        raise dkim.DnsTimeoutError("TEMPFAIL")
    return rec.encode() if rec is not None else None


def dkimpy_results(msg):
    n = sum(1 for line in msg.split(b"\r\n") if line.lower().startswith(b"dkim-signature:"))
    d = dkim.DKIM(msg, minkey=1024)
    out = []
    for i in range(n):
        try:
            out.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
        except Exception:  # dkimpy raises on temperror and bad keys
            out.append(False)
    return out


def authres_results(res):
    values = [h["value"] for h in res["headers_added"] if h["name"] == "Authentication-Results"]
    if len(values) != 1:
        raise ValueError("%d Authentication-Results fields" % len(values))
    parsed = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + values[0])
    out = []
    for r in parsed.results:
        if r.method != "dkim":
            continue
        props = {(p.type, p.name): p.value for p in r.properties}
        out.append((r.result, props.get(("header", "d")), props.get(("header", "s"))))
    return out


def main():
    binary, threads_bin = sys.argv[1], sys.argv[2]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        zone = os.path.join(tmp, "zone.txt")
        with open(zone, "w") as f:
            f.write(zone_text())
        rules = os.path.join(tmp, "rules")
        os.mkdir(rules)
        manifest = []
        for name, build, want in CASES:
            msg = build(BASE)
            path = os.path.join(tmp, name + ".eml")
            with open(path, "wb") as f:
                f.write(msg)
            out = subprocess.run(
                [binary, "--rules", rules, "test", "--json", "--dns-zone", zone,
                 "--client-ip", "192.0.2.1", "--from", "alerts@bank.example",
                 "--rcpt", "bob@example.com", path],
                capture_output=True, text=True, check=False)
            problems = []
            got = []
            if out.returncode != 0:
                problems.append("exit %d: %s" % (out.returncode, out.stderr.strip()))
            else:
                res = json.loads(out.stdout)
                sigs = res["dkim_signatures"]
                got = [x["result"] for x in sigs]
                if got != want:
                    problems.append("results %s, wanted %s" % (got, want))
                summary = "pass" if "pass" in got else "fail" if "fail" in got else None
                if summary and res["dkim"] != summary:
                    problems.append("dkim %s, wanted %s" % (res["dkim"], summary))
                if not got and res["dkim"] != "none":
                    problems.append("dkim %s for an unsigned message" % res["dkim"])
                if name == "six-signatures":
                    # past dkim_max_signatures: a limit, on_limit (tempfail) decides
                    if res.get("limit") != "dkim_signatures" or res.get("action") != "tempfail":
                        problems.append("limit %s action %s, wanted dkim_signatures tempfail"
                                        % (res.get("limit"), res.get("action")))
                    want_ar = None
                else:
                    want_ar = True
                try:
                    if want_ar is None:
                        raise StopIteration
                    ar = authres_results(res)
                    want_ar = [(x["result"], x["domain"], x["selector"]) for x in sigs] or [("none", None, None)]
                    if ar != want_ar:
                        problems.append("Authentication-Results %s, signatures %s" % (ar, want_ar))
                except StopIteration:
                    pass
                except Exception as e:  # authres raises its own errors
                    problems.append("Authentication-Results: %s" % e)
            py = dkimpy_results(msg)
            ours = [x == "pass" for x in want]
            if py != ours and name not in DELIBERATE:
                problems.append("dkimpy says %s" % py)
            if name in DELIBERATE and py == ours:
                problems.append("listed as a deliberate divergence, but dkimpy agrees")
            failed += bool(problems)
            print("%s %-26s %-28s dkimpy=%s%s" % ("BAD" if problems else "ok ", name, ",".join(got) or "-",
                                                 ",".join("pass" if p else "no" for p in py) or "-",
                                                 "".join("\n    " + p for p in problems)))
            manifest.append("%s %s" % (path, ",".join(want) or "-"))
        print("%d messages, %d differ" % (len(CASES), failed))
        seen = {r for _, _, want in CASES for r in want}
        missing = {"pass", "fail", "policy", "neutral", "temperror", "permerror"} - seen
        if missing:
            print("results never expected: %s" % " ".join(sorted(missing)))
            failed += 1
        man = os.path.join(tmp, "manifest")
        with open(man, "w") as f:
            f.write("\n".join(manifest) + "\n")
        out = subprocess.run([threads_bin, zone, man, "16", "2000"], capture_output=True, text=True,
                             check=False)
        print(out.stdout.strip())
        if out.returncode != 0:
            print("dkim-threads failed (exit %d): %s" % (out.returncode, out.stderr.strip()))
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
