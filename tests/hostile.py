#!/usr/bin/python3
"""Regression tests for the hostile-input audit (issue 10) that need
generated input: each case failed on the code before its fix.

Every case runs `milter-policy test --json` (the same engine as the daemon)
and asserts the exact outcome: action, reply, the limit named, the headers
written. Limits must fail closed (SPEC §8): a message past one is never
judged as if the rest did not exist.

Usage: hostile.py BINARY
"""
import json
import os
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(os.path.dirname(HERE), "rules")
TMP = tempfile.mkdtemp(prefix="mp-hostile-")
failed = 0
passed = 0


def write(name, data):
    path = os.path.join(TMP, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def conf(name, **keys):
    keys.setdefault("dns_zone_file", write("empty.zone", ""))
    return write(name + ".conf", "".join("%s = %s\n" % kv for kv in keys.items()))


def run(args, stdin=None, timeout=300):
    t0 = time.monotonic()
    p = subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=timeout)
    return p, time.monotonic() - t0


def run_env(args, stdin, timeout, extra_env):
    t0 = time.monotonic()
    p = subprocess.run([BIN] + args, input=stdin, capture_output=True, timeout=timeout,
                       env=dict(os.environ, **extra_env))
    return p, time.monotonic() - t0


def test_json(msg, cfg=None, rules=SHIPPED, env=(), timeout=300, extra_env=None):
    args = (["-c", cfg] if cfg else ["-c", conf("default")]) + ["--rules", rules, "test", "--json"]
    args += list(env) or ["--client-ip", "203.0.113.9", "--helo", "mail.sender.example",
                          "--from", "alerts@bank.example", "--rcpt", "bob@example.com", "--spf", "pass"]
    p, secs = run_env(args + ["-"], msg, timeout, extra_env or {})
    if p.returncode != 0:
        raise AssertionError("exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")[-800:]))
    return json.loads(p.stdout), secs


def case(name):
    def wrap(fn):
        global failed, passed
        try:
            fn()
            passed += 1
            print("ok   " + name)
        except Exception as e:  # a failed assertion or a crash of the binary
            failed += 1
            print("FAIL %s: %s" % (name, e))
        return fn
    return wrap


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def header(res, name):
    return [h["value"] for h in res["headers_added"] if h["name"].lower() == name.lower()]


# ---- finding 3: header limits fail closed ---------------------------------

FLOOD = b"X:\n" * 10000


@case("header-count limit before From: on_limit tempfails, not a silent accept")
def _():
    msg = FLOOD + b"From: Bank <alerts@bank.example>\nSubject: Your account\n\nhi\n"
    res, _ = test_json(msg)
    expect(res["action"] == "tempfail", "action %s" % res["action"])
    expect(res["limit"] == "header_count", "limit %s" % res["limit"])
    expect(res["reply"]["code"] == "451" and res["reply"]["xcode"] == "4.7.0", res["reply"])
    expect(res["reply"]["text"] == "Message exceeds the header_count limit",
           res["reply"])


@case("header-count limit before Content-Type: exe-attachment not skipped")
def _():
    msg = FLOOD + b"From: a@sender.example\nContent-Type: application/x; name=\"a.exe\"\n\nhi\n"
    res, _ = test_json(msg)
    expect(res["action"] == "tempfail" and res["limit"] == "header_count", res["action"])


@case("on_limit = accept, and a rule that tests limit.* decides")
def _():
    rules = os.path.dirname(write("limit-rules/global.rules",
                                  'rule "big" { when limit.exceeded and limit.name == "header_count" '
                                  'add header "X-Limit" "${limit.name}" }\n'
                                  'rule "never" { when header "Subject" ~ /x/ reject }\n'))
    msg = FLOOD + b"Subject: x\n\nhi\n"
    res, _ = test_json(msg, cfg=conf("accept", on_limit="accept"), rules=rules)
    expect(res["action"] == "accept", "action %s" % res["action"])
    expect(header(res, "X-Limit") == ["header_count"], res["headers_added"])
    res, _ = test_json(msg, rules=rules)
    expect(res["action"] == "tempfail", "default on_limit: %s" % res["action"])


@case("a header over 256 KiB is a limit, not cut")
def _():
    msg = b"From: a@sender.example\nSubject: " + b"y" * (300 * 1024) + b" viagra\n\nhi\n"
    res, _ = test_json(msg)
    expect(res["limit"] == "header_size" and res["action"] == "tempfail", (res["limit"], res["action"]))


@case("a 1,100-byte MAIL FROM keeps its domain: SPF fail, and the address limit")
def _():
    local = "l" * 1100
    zone = write("long.zone", "fail.example TXT \"v=spf1 -all\"\n")
    rules = os.path.dirname(write("long-rules/global.rules",
                                  'rule "spf" { when spf == fail reject 550 5.7.23 "SPF" }\n'
                                  'rule "seen" { when limit.exceeded and mail.from.domain == "fail.example" '
                                  'and spf == fail add header "X-Long" "${limit.name}" }\n'))
    env = ["--client-ip", "203.0.113.9", "--helo", "h.example", "--from", local + "@fail.example",
           "--rcpt", "bob@example.com"]
    res, _ = test_json(b"From: x@fail.example\n\nhi\n", cfg=conf("long", dns_zone_file=zone),
                       rules=rules, env=env)
    expect(res["limit"] == "address_length", "limit %s" % res["limit"])
    expect(res["action"] == "tempfail", "action %s" % res["action"])
    res, _ = test_json(b"From: x@fail.example\n\nhi\n", rules=rules, env=env,
                       cfg=conf("long-accept", dns_zone_file=zone, on_limit="accept"))
    expect(res["spf"] == "fail", "spf %s" % res["spf"])
    expect(header(res, "X-Long") == ["address_length"], res["headers_added"])
    expect(res["action"] == "accept", "action %s" % res["action"])


# ---- finding 5: DKIM signatures ---------------------------------------------

@case("1,000 DKIM signatures: 5 verified, the dkim_signatures limit, a short A-R")
def _():
    zone = os.path.join(HERE, "cases", "dkim", "zone.txt")
    sig = (b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=bank.example; s=s2048;\n"
           b" h=from:subject; l=%d; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\n")
    msg = b"".join(sig % (100 + i) for i in range(1000)) + b"From: a@bank.example\nSubject: x\n\nhi\n"
    res, _ = test_json(msg, cfg=conf("dkim", dns_zone_file=zone, on_limit="accept"))
    expect(res["limit"] == "dkim_signatures", "limit %s" % res["limit"])
    expect(len(res["dkim_signatures"]) == 5, "%d signatures" % len(res["dkim_signatures"]))
    ar = header(res, "Authentication-Results")
    expect(len(ar) == 1 and ar[0].count("dkim=") == 5 and len(ar[0]) < 2048, ar)
    res, _ = test_json(msg, cfg=conf("dkim-default", dns_zone_file=zone))
    expect(res["action"] == "tempfail", "default on_limit: %s" % res["action"])


@case("a rule decided at connect keeps its decision when MAIL FROM is over-long")
def _():
    rules = os.path.dirname(write("relay-rules/global.rules",
                                  'rule "relay" { when client.ip in { 192.0.2.0/24 } accept }\n'))
    env = ["--client-ip", "192.0.2.25", "--helo", "h.example", "--from", "l" * 1100 + "@x.example",
           "--rcpt", "bob@example.com"]
    res, _ = test_json(b"Subject: x\n\nhi\n", rules=rules, env=env)
    expect(res["action"] == "accept" and res["stage"] == "connect" and res["rule"] == "relay",
           (res["action"], res["stage"], res["rule"]))


# ---- finding 4: PCRE2 JIT stack -------------------------------------------

@case("/(a|b)*viagra/ matches a 5 KB Subject (JIT stack grows)")
def _():
    rules = os.path.dirname(write("jit-rules/global.rules",
                                  'rule "v" { when header "Subject" ~ /(a|b)*viagra/ reject 550 5.7.1 "v" }\n'))
    res, _ = test_json(b"Subject: " + b"ab" * 2500 + b"viagra\n\nhi\n", rules=rules)
    expect(res["action"] == "reject", "action %s, limit %s" % (res["action"], res["limit"]))
    expect(res["limit"] is None, "limit %s" % res["limit"])


@case("the match limit is named apart from the JIT stack")
def _():
    rules = os.path.dirname(write("ml-rules/global.rules",
                                  'rule "c" { when header "Subject" ~ /^(a+)+$/ reject }\n'))
    res, _ = test_json(b"Subject: " + b"a" * 40 + b"b\n\nhi\n", rules=rules,
                       cfg=conf("ml", regex_match_limit="1000"), extra_env={"MP_PREFILTER": "0"})
    expect(res["limit"] == "regex_match" and res["action"] == "tempfail", (res["limit"], res["action"]))
    expect(any("regex match limit reached in rule c" in l for l in res["log"]), res["log"])


# ---- finding 6: rule files that passed check and crashed ------------------

@case("100,000 and-joined terms: check, then a message, no crash")
def _():
    d = os.path.dirname(write("and-rules/global.rules",
                              'rule "a" { when ' + " and ".join('helo != "h%d"' % i for i in range(100000)) +
                              ' reject 550 5.7.1 "many" }\n'))
    p, _ = run(["check", d])
    expect(p.returncode == 0, "check exit %d %s" % (p.returncode, p.stderr[-300:]))
    res, _ = test_json(b"Subject: x\n\nhi\n", rules=d)
    expect(res["action"] == "reject" and res["stage"] == "helo", (res["action"], res["stage"]))


@case("400,000 or-joined terms: check does not crash")
def _():
    d = os.path.dirname(write("or-rules/global.rules",
                              'rule "a" { when ' + " or ".join('helo == "h%d"' % i for i in range(400000)) +
                              ' accept }\n'))
    p, _ = run(["check", d])
    expect(p.returncode == 0, "check exit %d %s" % (p.returncode, p.stderr[-300:]))


@case("a diamond of includes 30 levels deep is walked once per file")
def _():
    d = os.path.join(TMP, "diamond")
    for i in range(30):
        write("diamond/i%d.inc" % i, 'include "i%d.inc"\ninclude "i%d.inc"\n' % (i + 1, i + 1))
    write("diamond/i30.inc", 'rule "bottom" { when helo == "x" accept }\n')
    write("diamond/a.example.rules", 'include "i0.inc"\n')
    p, secs = run(["check", d], timeout=120)
    expect(p.returncode == 0 and b"1 rule," in p.stdout, p.stdout[-300:] + p.stderr[-300:])


# ---- finding 5: SPF overall deadline and void limit -----------------------

@case("9 mx terms x 10 slow hosts: temperror within dns_timeout, spf_time")
def _():
    lines = ["slow.example TXT \"v=spf1 %s -all\"" % " ".join("mx:m%d.slow.example" % i for i in range(9))]
    for i in range(9):
        for k in range(10):
            lines.append("m%d.slow.example MX 10 h%d.m%d.slow.example" % (i, k, i))
            lines.append("h%d.m%d.slow.example DELAY 250" % (k, i))
            lines.append("h%d.m%d.slow.example A 192.0.2.%d" % (k, i, k + 1))
    zone = write("slow.zone", "\n".join(lines) + "\n")
    rules = os.path.dirname(write("slow-rules/global.rules",
                                  'rule "t" { when spf == temperror tempfail 451 4.4.3 "DNS" }\n'))
    res, secs = test_json(b"Subject: x\n\nhi\n", cfg=conf("slow", dns_zone_file=zone, dns_timeout="1s"),
                          rules=rules, env=["--client-ip", "203.0.113.9", "--helo", "h.example",
                                            "--from", "a@slow.example", "--rcpt", "bob@example.com"])
    expect(res["spf"] == "temperror", "spf %s" % res["spf"])
    expect(res["action"] == "tempfail" and res["reply"]["code"] == "451", res["action"])
    expect(res["limit"] == "spf_time", "limit %s" % res["limit"])
    # 90 lookups of 250 ms would take 22 s; the deadline is 1 s (a second
    # of slack for process start-up on a loaded machine)
    expect(secs < 2.5, "took %.1f s with dns_timeout 1s" % secs)


@case("more than two void lookups stop the queries: permerror, spf_lookups")
def _():
    zone = write("void.zone", "void.example TXT \"v=spf1 %s -all\"\n" %
                 " ".join("a:n%d.void.example" % i for i in range(9)))
    rules = os.path.dirname(write("void-rules/global.rules",
                                  'rule "p" { when spf == permerror add header "X-P" "1" }\n'))
    res, _ = test_json(b"Subject: x\n\nhi\n", cfg=conf("void", dns_zone_file=zone, on_limit="accept"),
                       rules=rules, env=["--client-ip", "203.0.113.9", "--helo", "h.example",
                                         "--from", "a@void.example", "--rcpt", "bob@example.com"])
    expect(res["spf"] == "permerror", "spf %s" % res["spf"])
    expect(res["limit"] == "spf_lookups", "limit %s" % res["limit"])


# ---- finding 7: Received-SPF, Authentication-Results ----------------------

def kv_keys(value):
    """The keys of a Received-SPF value's key=value pairs, outside quotes
    and comments."""
    keys, i, depth, quoted, word = [], 0, 0, False, ""
    while i < len(value):
        c = value[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0:
            if c == "=":
                keys.append(word.strip().split()[-1] if word.strip() else "")
                word = ""
            elif c == ";":
                word = ""
            else:
                word += c
        i += 1
    return keys


@case("a HELO name cannot inject pairs into Received-SPF")
def _():
    res, _ = test_json(b"From: a@x.example\n\nhi\n", cfg=conf("rspf", add_received_spf="yes"),
                       env=["--client-ip", "203.0.113.9", "--helo", "x; client-ip=10.0.0.1",
                            "--from", "", "--rcpt", "bob@example.com"])
    values = header(res, "Received-SPF")
    expect(len(values) == 1, values)
    keys = kv_keys(values[0])
    expect(keys.count("client-ip") == 1, "keys %s in %s" % (keys, values[0]))
    expect('helo="x; client-ip=10.0.0.1";' in values[0], values[0])


@case("forged Authentication-Results that a lenient reader takes for ours are removed")
def _():
    cfg = conf("ar", authserv_id="mx.example.org")
    msg = (b"Authentication-Results: mx.example.org\x0b; spf=pass\n"
           b"Authentication-Results: mx.example.org.; dkim=pass\n"
           b"Authentication-Results: (forged mx.example.org; dkim=pass\n"
           b"Authentication-Results: other.example; spf=pass\n"
           b"From: a@sender.example\n\nhi\n")
    res, _ = test_json(msg, cfg=cfg)
    expect(res["headers_removed"] == ["Authentication-Results[3]", "Authentication-Results[2]",
                                      "Authentication-Results[1]"], res["headers_removed"])


print("%d passed, %d failed" % (passed, failed))
subprocess.run(["rm", "-rf", TMP])
sys.exit(1 if failed else 0)
