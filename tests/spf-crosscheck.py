#!/usr/bin/python3
"""SPF cross-check: milter-policy (libspf2 over its DNS module) against
pyspf (python3-spf, an independent implementation), on generated cases.

Both read DNS from one static zone file: milter-policy through
`test --dns-zone`, pyspf through a replacement of spf.DNSLookup. Every case
must give the same result.  Each Authentication-Results field milter-policy
writes is also parsed with python3-authres (RFC 8601): it must parse, and say
the same result for the same identity.  Usage: spf-crosscheck.py BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

import authres
import spf

# (name, records, client ip, sender, helo); records: list of (owner, type, data)
# relative owners ("@") are the case's own domain.
CASES = [
    ("ip4-pass", [("@", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")], "192.0.2.9", "a@@", "h.example"),
    ("ip4-fail", [("@", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")], "198.51.100.7", "a@@", "h.example"),
    ("ip4-softfail", [("@", "TXT", "v=spf1 ip4:192.0.2.0/24 ~all")], "198.51.100.7", "a@@", "h.example"),
    ("ip4-neutral", [("@", "TXT", "v=spf1 ip4:192.0.2.0/24 ?all")], "198.51.100.7", "a@@", "h.example"),
    ("plus-all", [("@", "TXT", "v=spf1 +all")], "203.0.113.1", "a@@", "h.example"),
    ("ip4-host", [("@", "TXT", "v=spf1 ip4:198.51.100.7 -all")], "198.51.100.7", "a@@", "h.example"),
    ("ip4-cidr16", [("@", "TXT", "v=spf1 ip4:198.51.0.0/16 -all")], "198.51.100.7", "a@@", "h.example"),
    ("ip6-pass", [("@", "TXT", "v=spf1 ip6:2001:db8::/32 -all")], "2001:db8::25", "a@@", "h.example"),
    ("ip6-fail", [("@", "TXT", "v=spf1 ip6:2001:db8::/32 -all")], "2001:db9::25", "a@@", "h.example"),
    ("ip6-client-ip4-mech", [("@", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")], "2001:db8::1", "a@@", "h.example"),
    ("a-mech", [("@", "TXT", "v=spf1 a -all"), ("@", "A", "198.51.100.7")], "198.51.100.7", "a@@", "h.example"),
    ("a-other", [("@", "TXT", "v=spf1 a:host.@ -all"), ("host.@", "A", "198.51.100.8")], "198.51.100.8", "a@@", "h.example"),
    ("a-cidr", [("@", "TXT", "v=spf1 a/24 -all"), ("@", "A", "198.51.100.1")], "198.51.100.77", "a@@", "h.example"),
    ("a-aaaa", [("@", "TXT", "v=spf1 a -all"), ("@", "AAAA", "2001:db8::7")], "2001:db8::7", "a@@", "h.example"),
    ("mx-pass", [("@", "TXT", "v=spf1 mx -all"), ("@", "MX", "10 mx.@"), ("mx.@", "A", "198.51.100.9")], "198.51.100.9", "a@@", "h.example"),
    ("mx-fail", [("@", "TXT", "v=spf1 mx -all"), ("@", "MX", "10 mx.@"), ("mx.@", "A", "198.51.100.9")], "198.51.100.10", "a@@", "h.example"),
    ("include-pass", [("@", "TXT", "v=spf1 include:inc.@ -all"), ("inc.@", "TXT", "v=spf1 ip4:198.51.100.0/24 -all")], "198.51.100.7", "a@@", "h.example"),
    ("include-nomatch", [("@", "TXT", "v=spf1 include:inc.@ ~all"), ("inc.@", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")], "198.51.100.7", "a@@", "h.example"),
    ("include-none", [("@", "TXT", "v=spf1 include:nothing.@ -all")], "198.51.100.7", "a@@", "h.example"),
    ("include-temperror", [("@", "TXT", "v=spf1 include:broken.@ -all"), ("broken.@", "TEMPFAIL", "")], "198.51.100.7", "a@@", "h.example"),
    ("redirect-pass", [("@", "TXT", "v=spf1 redirect=r.@"), ("r.@", "TXT", "v=spf1 ip4:198.51.100.7 -all")], "198.51.100.7", "a@@", "h.example"),
    ("redirect-fail", [("@", "TXT", "v=spf1 redirect=r.@"), ("r.@", "TXT", "v=spf1 -all")], "198.51.100.7", "a@@", "h.example"),
    ("redirect-none", [("@", "TXT", "v=spf1 redirect=nothing.@")], "198.51.100.7", "a@@", "h.example"),
    ("exists-macro-i", [("@", "TXT", "v=spf1 exists:%{i}.ok.@ -all"), ("198.51.100.7.ok.@", "A", "127.0.0.2")], "198.51.100.7", "a@@", "h.example"),
    ("exists-macro-l", [("@", "TXT", "v=spf1 exists:%{l}.users.@ -all"), ("alice.users.@", "A", "127.0.0.2")], "198.51.100.7", "alice@@", "h.example"),
    ("exists-macro-ir", [("@", "TXT", "v=spf1 exists:%{ir}.rev.@ -all"), ("7.100.51.198.rev.@", "A", "127.0.0.2")], "198.51.100.7", "a@@", "h.example"),
    # macro transformers: libspf2 gets these wrong, milter-policy expands them
    ("macro-l2", [("@", "TXT", "v=spf1 exists:%{l2}.t.@ -all"), ("user.name.t.@", "A", "127.0.0.2")], "198.51.100.7", "user.name@@", "h.example"),
    ("macro-l2r", [("@", "TXT", "v=spf1 exists:%{l2r}.t.@ -all"), ("name.user.t.@", "A", "127.0.0.2")], "198.51.100.7", "user.name@@", "h.example"),
    ("macro-l1r-dash", [("@", "TXT", "v=spf1 exists:%{l1r-}.t.@ -all"), ("user.name.t.@", "A", "127.0.0.2")], "198.51.100.7", "user.name@@", "h.example"),
    ("macro-l-dash", [("@", "TXT", "v=spf1 exists:%{l-}.t.@ -all"), ("first.last.t.@", "A", "127.0.0.2")], "198.51.100.7", "first-last@@", "h.example"),
    ("macro-d2", [("@", "TXT", "v=spf1 exists:%{d2}.t.@ -all"), ("@.t.@", "A", "127.0.0.2")], "198.51.100.7", "a@@", "h.example"),
    ("macro-i2r", [("@", "TXT", "v=spf1 exists:%{i2r}.t.@ -all"), ("51.198.t.@", "A", "127.0.0.2")], "198.51.100.7", "a@@", "h.example"),
    ("macro-i6-8", [("@", "TXT", "v=spf1 exists:%{i8}.t.@ -all"), ("0.0.0.0.0.0.0.7.t.@", "A", "127.0.0.2")], "2001:db8::7", "a@@", "h.example"),
    ("macro-h1", [("@", "TXT", "v=spf1 exists:%{h1}.t.@ -all"), ("example.t.@", "A", "127.0.0.2")], "198.51.100.7", "a@@", "mx.h.example"),
    ("macro-in-include", [("@", "TXT", "v=spf1 include:%{d2}.inc.@ -all"), ("@.inc.@", "TXT", "v=spf1 ip4:198.51.100.7 -all")], "198.51.100.7", "a@@", "h.example"),
    ("macro-unsafe-local", [("@", "TXT", "v=spf1 exists:%{l2+}.t.@ -all")], "198.51.100.7", "x y+z@@", "h.example"),
    ("exists-miss", [("@", "TXT", "v=spf1 exists:%{i}.ok.@ -all")], "198.51.100.7", "a@@", "h.example"),
    ("two-records", [("@", "TXT", "v=spf1 -all"), ("@", "TXT", "v=spf1 +all")], "198.51.100.7", "a@@", "h.example"),
    ("syntax-bad-ip", [("@", "TXT", "v=spf1 ip4:300.1.1.1 -all")], "198.51.100.7", "a@@", "h.example"),
    ("syntax-unknown-mech", [("@", "TXT", "v=spf1 foo:bar -all")], "198.51.100.7", "a@@", "h.example"),
    ("unknown-modifier", [("@", "TXT", "v=spf1 ip4:198.51.100.7 moo=cow -all")], "198.51.100.7", "a@@", "h.example"),
    ("no-record", [], "198.51.100.7", "a@@", "h.example"),
    ("non-spf-txt", [("@", "TXT", "google-site-verification=abc")], "198.51.100.7", "a@@", "h.example"),
    ("top-temperror", [("@", "TEMPFAIL", "")], "198.51.100.7", "a@@", "h.example"),
    ("too-many-lookups", [("@", "TXT", "v=spf1 " + " ".join("include:i%d.@" % k for k in range(11)) + " -all")]
     + [("i%d.@" % k, "TXT", "v=spf1 -all") for k in range(11)], "198.51.100.7", "a@@", "h.example"),
    ("ten-lookups-ok", [("@", "TXT", "v=spf1 " + " ".join("include:i%d.@" % k for k in range(9)) + " ip4:198.51.100.7 -all")]
     + [("i%d.@" % k, "TXT", "v=spf1 ?all") for k in range(9)], "198.51.100.7", "a@@", "h.example"),
    ("three-voids", [("@", "TXT", "v=spf1 a:v1.@ a:v2.@ a:v3.@ -all")], "198.51.100.7", "a@@", "h.example"),
    ("two-voids-ok", [("@", "TXT", "v=spf1 a:v1.@ a:v2.@ ip4:198.51.100.7 -all")], "198.51.100.7", "a@@", "h.example"),
    ("null-sender-helo", [("helo.@", "TXT", "v=spf1 ip4:198.51.100.7 -all")], "198.51.100.7", "", "helo.@"),
    ("null-sender-helo-fail", [("helo.@", "TXT", "v=spf1 -all")], "198.51.100.7", "", "helo.@"),
    ("multi-string", [("@", "TXT", '"v=spf1 ip4:198.51.100.7" " -all"')], "198.51.100.7", "a@@", "h.example"),
    ("case-insensitive", [("@", "TXT", "V=SPF1 IP4:198.51.100.7 -ALL")], "198.51.100.7", "a@@", "h.example"),
]


# Where milter-policy departs from pyspf on purpose, and why.
DELIBERATE = {
    # an expansion that would splice a space (chosen by the sender) into the
    # record is refused rather than handed to libspf2
    "macro-unsafe-local": "permerror",
}


def build_zone():
    """All cases in one zone; returns (zone text, {name: [(type, data)]})."""
    lines, table = [], {}
    for n, (name, records, ip, sender, helo) in enumerate(CASES):
        dom = "c%02d.example" % n
        for owner, rtype, data in records:
            o = dom if owner == "@" else owner.replace("@", dom)
            if rtype == "TEMPFAIL":
                lines.append("%s TEMPFAIL" % o)
                table.setdefault(o.lower(), []).append(("TEMPFAIL", None))
                continue
            if rtype == "TXT":
                data = data.replace("@", dom)
                if data.startswith('"'):
                    strings = [p for p in data.split('"') if p.strip()]
                else:
                    # DNS character-strings hold 255 bytes at most
                    strings = [data[k:k + 255] for k in range(0, len(data), 255)]
                lines.append("%s TXT %s" % (o, " ".join('"%s"' % s for s in strings)))
                table.setdefault(o.lower(), []).append(("TXT", [s.encode() for s in strings]))
            elif rtype == "MX":
                pref, target = data.split()
                target = target.replace("@", dom)
                lines.append("%s MX %s %s" % (o, pref, target))
                table.setdefault(o.lower(), []).append(("MX", (int(pref), target)))
            else:
                lines.append("%s %s %s" % (o, rtype, data))
                table.setdefault(o.lower(), []).append((rtype, data))
    return "\n".join(lines) + "\n", table


def check_authres(res, got, sender, helo):
    """None when the added Authentication-Results field parses and reports
    `got` for the right identity, else what is wrong."""
    values = [h["value"] for h in res["headers_added"] if h["name"] == "Authentication-Results"]
    if len(values) != 1:
        return "%d fields added" % len(values)
    try:
        parsed = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + values[0])
    except Exception as e:  # authres raises its own SyntaxError and others
        return "does not parse (%s): %r" % (e, values[0])
    spf_results = [r for r in parsed.results if r.method == "spf"]
    if len(spf_results) != 1 or spf_results[0].result != got:
        return "spf result differs: %r" % values[0]
    props = {(p.type, p.name): p.value for p in spf_results[0].properties}
    if sender:
        local, _, domain = sender.rpartition("@")
        want = [sender, '"%s"@%s' % (local, domain)]
        if props.get(("smtp", "mailfrom")) not in want:
            return "smtp.mailfrom %r, sender %r" % (props.get(("smtp", "mailfrom")), sender)
    elif props.get(("smtp", "helo")) != helo:
        return "smtp.helo %r, helo %r" % (props.get(("smtp", "helo")), helo)
    return None


def main():
    binary = sys.argv[1]
    zone_text, table = build_zone()

    def lookup(name, qtype, *args, **kwargs):
        name = name.lower().rstrip(".")
        recs = table.get(name, [])
        if any(t == "TEMPFAIL" for t, _ in recs):
            raise spf.TempError("DNS TEMPFAIL for %s" % name)
        return [((name, qtype), d) for t, d in recs if t == qtype]

    spf.DNSLookup = lookup
    failed = 0
    seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        zone = os.path.join(tmp, "zone.txt")
        with open(zone, "w") as f:
            f.write(zone_text)
        rules = os.path.join(tmp, "rules")
        os.mkdir(rules)
        for n, (name, records, ip, sender, helo) in enumerate(CASES):
            dom = "c%02d.example" % n
            sender = sender.replace("@@", "@" + dom) if sender else ""
            helo = helo.replace("@", dom)
            want = spf.check2(i=ip, s=sender, h=helo)[0]
            if name in DELIBERATE:
                want = DELIBERATE[name]
            out = subprocess.run(
                [binary, "--rules", rules, "test", "--json", "--dns-zone", zone,
                 "--client-ip", ip, "--helo", helo, "--from", sender, "--rcpt", "x@rcpt.example"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
            if out.returncode == 0:
                res = json.loads(out.stdout)
                got = res["spf"]
                ar_problem = check_authres(res, got, sender, helo)
            else:
                got = "exit %d: %s" % (out.returncode, out.stderr)
                ar_problem = None
            seen.add(got)
            mark = "ok " if got == want and not ar_problem else "BAD"
            failed += got != want or ar_problem is not None
            if ar_problem:
                print("    Authentication-Results: %s" % ar_problem)
            print("%s %-22s ip=%-14s from=%-24s pyspf=%-9s milter-policy=%s" % (mark, name, ip, sender or "<>", want, got))
    print("%d cases, %d differ" % (len(CASES), failed))
    # a run where every case fails the same way would prove nothing
    missing = {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"} - seen
    if missing:
        print("results never seen: %s" % " ".join(sorted(missing)))
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
