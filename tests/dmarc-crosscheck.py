#!/usr/bin/python3
"""DMARC against an independent implementation: python3-authheaders
(dmarc_per_from) evaluates the same From domain, SPF and DKIM results over
the same DNS answers as `milter-policy test --json` (SPF and DKIM injected,
the DMARC records from one zone file). Generated cases cover every result,
relaxed and strict alignment for SPF and DKIM, p=/sp=/np=, the fallback to
the organisational domain, several records at a name and DNS failures.

Where the two differ by design the case says so and what each gives is
checked (RFC 7489 is on our side in each; docs/dmarc.md lists them):
- a DNS failure: authheaders has no temperror (its lookup returns nothing,
  so "none"); we say temperror (RFC 7489 §6.6.3, SPEC §10).
- an invalid p= without rua=: authheaders evaluates with the bad policy;
  the record is invalid for us, so none (§6.6.3 step 6).
- pct= is not applied by authheaders; the cases keep pct=100 apart from
  one, checked against RFC 7489 §6.6.4 itself.
- sp= in the From domain's own record: authheaders applies it there too;
  sp= is for subdomains (RFC 7489 §6.3), so p= applies for us.
The domains are under .org (authheaders' Public Suffix List library makes
every name of an unlisted TLD such as .example one organisational domain)
and have no hyphen (its get_domain_part stops at one).

Usage: dmarc-crosscheck.py BINARY
"""
import itertools
import json
import os
import subprocess
import sys
import tempfile

import dns.resolver
from authres import DKIMAuthenticationResult, SPFAuthenticationResult
import authheaders
import authheaders.dmarc_lookup as lookup

BIN = sys.argv[1]

# name -> [TXT strings]; "TEMPFAIL" for a failing name
RECORDS = {
    "_dmarc.rejtest.org": ["v=DMARC1; p=reject"],
    "_dmarc.quartest.org": ["v=DMARC1; p=quarantine; rua=mailto:d@quartest.org"],
    "_dmarc.montest.org": ["v=DMARC1; p=none"],
    "_dmarc.sptest.org": ["v=DMARC1; p=reject; sp=quarantine"],
    "_dmarc.nptest.org": ["v=DMARC1; p=reject; sp=none; np=quarantine"],
    "_dmarc.sdktest.org": ["v=DMARC1; p=reject; adkim=s"],
    "_dmarc.ssptest.org": ["v=DMARC1; p=quarantine; aspf=s"],
    "_dmarc.bothtest.org": ["v=DMARC1; p=reject; adkim=s; aspf=s; sp=none"],
    "_dmarc.twotest.org": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
    "_dmarc.mixedtest.org": ["v=spf1 -all", "v=DMARC1; p=quarantine", "hello"],
    "_dmarc.own.rejtest.org": ["v=DMARC1; p=none"],
    "_dmarc.failtest.org": "TEMPFAIL",
    "_dmarc.badptest.org": ["v=DMARC1; p=block"],
    "_dmarc.badruatest.org": ["v=DMARC1; p=block; rua=mailto:d@badruatest.org"],
    "_dmarc.pcttest.org": ["v=DMARC1; p=reject; pct=0"],
}
# names that exist (np= looks at the From domain)
EXISTING = {"rejtest.org", "mail.rejtest.org", "quartest.org", "montest.org", "sptest.org",
            "mail.sptest.org", "nptest.org", "mail.nptest.org", "sdktest.org", "mail.sdktest.org",
            "ssptest.org", "bothtest.org", "twotest.org", "mixedtest.org", "own.rejtest.org",
            "failtest.org", "badptest.org", "badruatest.org", "pcttest.org", "othertest.org"}


def zone_text():
    lines = []
    for name, recs in RECORDS.items():
        if recs == "TEMPFAIL":
            lines.append("%s TEMPFAIL" % name)
            continue
        for r in recs:
            lines.append('%s TXT "%s"' % (name, r))
    for name in sorted(EXISTING):
        lines.append("%s A 192.0.2.1" % name)
    return "\n".join(lines) + "\n"


def fake_query(name, qtype="TXT"):
    """dnspython's query as authheaders calls it, over RECORDS."""
    name = name.rstrip(".").lower()
    if qtype.upper() == "TXT":
        recs = RECORDS.get(name)
        if recs == "TEMPFAIL":
            raise dns.resolver.NoNameservers()
        if not recs:
            raise dns.resolver.NXDOMAIN()
        return ['"%s"' % r for r in recs]
    if name in EXISTING:
        return ["192.0.2.1"]
    raise dns.resolver.NXDOMAIN()


lookup.query = fake_query


def theirs(from_domain, spf, mailfrom, dkim, dkim_d):
    spf_r = SPFAuthenticationResult(result=spf, smtp_mailfrom=mailfrom)
    dkim_r = DKIMAuthenticationResult(result=dkim, header_d=dkim_d) if dkim else None
    result, _comment, _dom, policy = authheaders.dmarc_per_from(from_domain, spf_r, dkim_r)
    return result, policy or ""


def ours(tmp, from_domain, spf, mailfrom, dkim, dkim_d):
    msg = os.path.join(tmp, "m.eml")
    with open(msg, "w") as f:
        f.write("From: <x@%s>\nTo: bob@example.com\nSubject: t\n\nhi\n" % from_domain)
    argv = [BIN, "--rules", os.path.join(tmp, "rules"), "test", "--json",
            "--dns-zone", os.path.join(tmp, "zone.txt"), "--client-ip", "198.51.100.7",
            "--from", mailfrom, "--rcpt", "bob@example.com", "--spf", spf,
            "--dkim", ("%s:%s" % (dkim, dkim_d)) if dkim else "none", msg]
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), p.stderr))
    d = json.loads(p.stdout)["dmarc"]
    return d["result"], d["policy"]


# (From domain, why); the expected difference, if any, by From domain
FROMS = ["rejtest.org", "mail.rejtest.org", "quartest.org", "montest.org", "sptest.org",
         "mail.sptest.org", "nptest.org", "mail.nptest.org", "ghost.nptest.org",
         "sdktest.org", "mail.sdktest.org", "ssptest.org", "bothtest.org", "twotest.org",
         "sub.twotest.org", "mixedtest.org", "own.rejtest.org", "nonetest.org"]
# (spf result, MAIL FROM domain relative to the From domain, dkim result, d= relative)
AUTH = [("pass", "same", None, None), ("pass", "sub", None, None), ("pass", "other", None, None),
        ("fail", "same", None, None), ("pass", "other", "pass", "same"),
        ("fail", "other", "pass", "sub"), ("fail", "other", "pass", "org"),
        ("fail", "other", "fail", "same"), ("softfail", "same", "pass", "other")]
SPECIAL = [  # (From, spf, mailfrom rel, dkim, d rel, (our result, our policy), why)
    ("failtest.org", "pass", "same", None, None, ("temperror", "none"),
     "DNS failure: temperror for us, none for authheaders"),
    ("badptest.org", "pass", "same", None, None, ("none", "none"),
     "invalid p= without rua=: no DMARC for us"),
    ("badruatest.org", "fail", "other", None, None, ("fail", "none"),
     "invalid p= with rua=: read as p=none"),
    ("pcttest.org", "fail", "other", None, None, ("fail", "quarantine"),
     "pct=0: a failing message outside the sample gets the next lower policy"),
    ("pcttest.org", "pass", "same", None, None, ("pass", "reject"),
     "pct=0: a pass keeps the published policy"),
]


def domain_for(rel, from_domain):
    org = from_domain.split(".", 1)[1] if from_domain.count(".") > 1 else from_domain
    return {"same": from_domain, "sub": "bounces." + from_domain, "org": org,
            "other": "othertest.org"}[rel]


def main():
    tmp = tempfile.mkdtemp(prefix="mp-dmarc-x-")
    os.mkdir(os.path.join(tmp, "rules"))
    open(os.path.join(tmp, "rules", "global.rules"), "w").write("")
    with open(os.path.join(tmp, "zone.txt"), "w") as f:
        f.write(zone_text())
    n = failed = 0
    seen = set()
    documented_sp = set()
    for fd, (spf, mrel, dk, drel) in itertools.product(FROMS, AUTH):
        mailfrom = "b@" + domain_for(mrel, fd)
        dkim_d = domain_for(drel, fd) if dk else None
        a = ours(tmp, fd, spf, mailfrom, dk, dkim_d)
        b = theirs(fd, spf, mailfrom, dk, dkim_d)
        n += 1
        seen.add(a[0])
        # no record: authheaders reports no policy, we report none
        same = a[0] == b[0] and (a[1] == b[1] or (b[0] == "none" and a[1] == "none"))
        own = RECORDS.get("_dmarc." + fd)
        if not same and a[0] == b[0] and isinstance(own, list) and "sp=" in own[0]:
            # authheaders applies sp= to the From domain's own record too;
            # RFC 7489 §6.3: sp= is for subdomains, so p= stands
            same = a[1] == own[0].split("p=", 1)[1].split(";")[0]
            documented_sp.add(fd)
        if not same:
            failed += 1
            print("DIFFER from=%s spf=%s mailfrom=%s dkim=%s d=%s: ours %s, authheaders %s"
                  % (fd, spf, mailfrom, dk, dkim_d, a, b))
    for fd, spf, mrel, dk, drel, want, why in SPECIAL:
        mailfrom = "b@" + domain_for(mrel, fd)
        dkim_d = domain_for(drel, fd) if dk else None
        a = ours(tmp, fd, spf, mailfrom, dk, dkim_d)
        b = theirs(fd, spf, mailfrom, dk, dkim_d)
        n += 1
        seen.add(a[0])
        if a != want:
            failed += 1
            print("FAIL %s: ours %s, wanted %s (authheaders %s)" % (why, a, want, b))
        else:
            print("     documented: %s: ours %s, authheaders %s" % (why, a, b))
    for fd in sorted(documented_sp):
        print("     documented: sp= at the From domain's own record (%s): p= for us, sp= for authheaders" % fd)
    missing = {"pass", "fail", "none", "temperror"} - seen
    if missing:
        failed += 1
        print("FAIL no case gave %s" % sorted(missing))
    print("%d cases, %d differ" % (n, failed))
    return 1 if failed or n < 60 else 0


if __name__ == "__main__":
    sys.exit(main())
