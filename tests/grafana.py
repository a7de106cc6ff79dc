#!/usr/bin/python3
"""The Grafana dashboard (packaging/grafana/milter-policy.json) and the
example alerts of docs/metrics.md: the dashboard is JSON of the shape
Grafana imports (panels with positions and Prometheus targets), every
metric it reads is one the daemon exports (daemon/stats.c), and every
query of both is valid PromQL for promtool (the dashboard's $job variable
set to a regex first).
Usage: grafana.py"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fails = []


def fail(msg):
    fails.append(msg)


def main():
    with open(os.path.join(ROOT, "packaging", "grafana", "milter-policy.json")) as f:
        dash = json.load(f)
    with open(os.path.join(ROOT, "src", "daemon", "stats.c")) as f:
        exported = set(re.findall(r'"(milter_policy_[a-z_]+)"', f.read()))
    with open(os.path.join(ROOT, "src", "dns", "backend.c")) as f:
        exported |= set(re.findall(r'"(milter_policy_[a-z_]+)"', f.read()))
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            fail("the dashboard has no %s" % key)
    exprs = []
    ids = set()
    for p in dash.get("panels", []):
        if p.get("id") in ids:
            fail("panel id %s twice" % p.get("id"))
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(k in g for k in ("x", "y", "w", "h")) or g.get("x", 0) + g.get("w", 0) > 24:
            fail("panel %r: bad gridPos %s" % (p.get("title"), g))
        if not p.get("targets"):
            fail("panel %r has no query" % p.get("title"))
        for t in p.get("targets", []):
            exprs.append((p.get("title"), t.get("expr", "")))
    for title, e in exprs:
        for name in re.findall(r"milter_policy_[a-z_]+", e):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name not in exported and base not in exported:
                fail("panel %r reads %s, which the daemon does not export" % (title, name))
    # PromQL syntax through promtool, as recording rules
    with open(os.path.join(ROOT, "docs", "metrics.md")) as f:
        doc = f.read()
    alerts = re.search(r"```yaml\n(groups:.*?)```", doc, re.S)
    with tempfile.TemporaryDirectory() as d:
        rules = os.path.join(d, "dashboard.yml")
        with open(rules, "w") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, (_, e) in enumerate(exprs):
                f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(e.replace("$job", ".*"))))
        files = [rules]
        if alerts is None:
            fail("docs/metrics.md has no example alerts")
        else:
            path = os.path.join(d, "alerts.yml")
            with open(path, "w") as f:
                f.write(alerts.group(1))
            for name in re.findall(r"milter_policy_[a-z_]+", alerts.group(1)):
                if re.sub(r"_(bucket|sum|count)$", "", name) not in exported and name not in exported:
                    fail("docs/metrics.md alerts read %s, which the daemon does not export" % name)
            files.append(path)
        p = subprocess.run(["promtool", "check", "rules"] + files, capture_output=True, text=True)
        if p.returncode != 0:
            fail("promtool check rules: %s %s" % (p.stdout, p.stderr))
    for f in fails:
        print("FAIL " + f)
    print("%d queries, %d failures" % (len(exprs), len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
