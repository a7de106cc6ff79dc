#!/usr/bin/python3
"""Runs the generated MIME corpus (tests/mime/corpus.py) through
`milter-policy test --json` and checks every asserted field, the decision
and the limit of each case (SPEC §11). Usage: mime-corpus.py BIN"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "mime"))
import corpus  # noqa: E402

RULES = """\
rule "exe" {
    when attachment.ext == "exe"
    reject 550 5.7.1 "Executable attachment ${attachment.name}"
}
"""


def check(name, got, want, fails):
    mime = got.get("mime")
    if mime is None:
        fails.append("%s: no MIME walk in the report" % name)
        return
    for key, value in want.get("mime", {}).items():
        if key == "text~":
            for s in value:
                if s not in mime["text"]:
                    fails.append("%s: text lacks %r (text %r)" % (name, s, mime["text"][:300]))
        elif key == "text!~":
            for s in value:
                if s in mime["text"]:
                    fails.append("%s: text holds %r" % (name, s))
        elif key.endswith("~"):
            missing = [s for s in value if s not in mime[key[:-1]]]
            if missing:
                fails.append("%s: %s lacks %r (has %r)" % (name, key[:-1], missing, mime[key[:-1]]))
        elif key.endswith("#"):
            if len(mime[key[:-1]]) != value:
                fails.append("%s: %s has %d values, wanted %d" % (name, key[:-1],
                                                                 len(mime[key[:-1]]), value))
        elif mime.get(key) != value:
            fails.append("%s: %s is %r, wanted %r" % (name, key, mime.get(key), value))
    if got["limit"] != want.get("limit"):
        fails.append("%s: limit %r, wanted %r" % (name, got["limit"], want.get("limit")))
    if "action" in want and got["action"] != want["action"]:
        fails.append("%s: action %s, wanted %s" % (name, got["action"], want["action"]))
    if "reply" in want:
        r = got["reply"]
        line = "%s %s %s" % (r["code"], r["xcode"], r["text"]) if r else None
        if line != want["reply"]:
            fails.append("%s: reply %r, wanted %r" % (name, line, want["reply"]))


def main():
    binary = sys.argv[1]
    fails = []
    with tempfile.TemporaryDirectory() as d:
        rules = os.path.join(d, "rules")
        os.mkdir(rules)
        with open(os.path.join(rules, "global.rules"), "w") as f:
            f.write(RULES)
        cases = corpus.build(os.path.join(d, "corpus"))
        for name, path, want in cases:
            p = subprocess.run([binary, "test", "--rules", rules, "--json", path],
                               capture_output=True, text=True)
            if p.returncode not in (0, 1) or not p.stdout.startswith("{"):
                fails.append("%s: exit %d: %s" % (name, p.returncode, p.stderr.strip()))
                continue
            check(name, json.loads(p.stdout), want, fails)
    for f in fails:
        print("FAIL " + f)
    print("%d cases, %d failures" % (len(cases), len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
