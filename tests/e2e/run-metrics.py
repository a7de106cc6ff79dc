#!/usr/bin/python3
"""End to end: the metrics endpoint (SPEC §13) behind the private Postfix,
scraped by a real Prometheus server. Every series exists from the start
(promtool check metrics accepts the text); known traffic - SPF forgeries
refused at MAIL FROM, clean mail accepted, an exe in a zip refused at end
of data, a closed mailbox refused at RCPT - gives exact counts in the
daemon's text and, through Prometheus's HTTP API, in Prometheus; a broken
rule file makes a failed reload and a fixed one a reload, each counted;
`milter-policy status` prints the same numbers.
Usage: run-metrics.py BINARY
"""
import io
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import Fail, check, msg, reply, send  # noqa: E402
from postfix import Postfix  # noqa: E402
from testbed import HERE, Testbed, free_port, wait_for  # noqa: E402

DNS = [("sender.example", "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"')]


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        check(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
              "Content-Type %s" % r.headers["Content-Type"])
        return r.read().decode()


def value(text, name, **labels):
    """The sample of name with exactly these labels (any order)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if got == {k: str(v) for k, v in labels.items()}:
            return float(m.group(3))
    raise Fail("no sample %s%s" % (name, labels))


def promtool(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    check(p.returncode == 0, "promtool check metrics: %s %s" % (p.stdout, p.stderr))


def prom_query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.parse.quote(q))
    with urllib.request.urlopen(url, timeout=5) as r:
        res = json.load(r)
    check(res["status"] == "success", "query %s: %s" % (q, res))
    return [float(s["value"][1]) for s in res["data"]["result"]]


def exe_zip():
    import base64
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("setup.exe", b"MZ" + b"\0" * 100)
    body = (b"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            b"--b1\r\nContent-Type: application/zip; name=\"t.zip\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" +
            base64.encodebytes(b.getvalue()).replace(b"\n", b"\r\n") + b"--b1--\r\n")
    return msg("tools", headers=["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"'],
               body=body)


def main():
    tb = Testbed(sys.argv[1], "metrics")
    failed = 0
    try:
        tb.start_dns(DNS)
        mport = free_port()
        tb.start_milter(os.path.join(HERE, "rules"), extra="metrics_listen = 127.0.0.1:%d\n" % mport)
        tb.start_sink()
        pf = Postfix(tb, ["example.com"])

        # every series from the start, at zero
        text = scrape(mport)
        promtool(text)
        check(value(text, "milter_policy_reload_failures_total") == 0, "reload failures")
        check(value(text, "milter_policy_rule_hits_total", policy="global", rule="spf-fail") == 0,
              "spf-fail hits at start")
        check(value(text, "milter_policy_messages_total", action="reject", stage="mail") == 0, "rejects")
        check(value(text, "milter_policy_limits_total", limit="mime_parts") == 0, "limits")
        check(value(text, "milter_policy_build_info", version=re.search(
            r'version="([^"]+)"', text).group(1)) == 1, "build info")

        # Prometheus scraping it every second
        pport = free_port()
        pdir = tb.path("prometheus")
        os.mkdir(pdir)
        with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                    "  - job_name: milter-policy\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % mport)
        tb.spawn("prometheus", ["prometheus", "--config.file=" + os.path.join(pdir, "prometheus.yml"),
                                       "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                                       "--web.listen-address=127.0.0.1:%d" % pport])
        up = wait_for(lambda: _try(lambda: prom_query(pport, 'up{job="milter-policy"}') == [1.0]), 30)
        check(up, "Prometheus does not scrape the daemon: " + tb.read("prometheus.log")[-2000:])

        # known traffic
        forged, clean = 3, 2
        for i in range(forged):
            t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("forged %d" % i),
                     client="192.0.2.99")
            reply(t.reply_to("MAIL FROM"), "550 5.7.23", "MAIL FROM")
        for i in range(clean):
            t = send(tb, pf, "alice@sender.example", "bob@example.com", msg("clean %d" % i))
            reply(t.end_of_data(), "250", "end of data")
        t = send(tb, pf, "alice@sender.example", "bob@example.com", exe_zip())
        reply(t.end_of_data(), "550 5.7.1 Executable inside an archive refused", "end of data")

        def settled():
            txt = scrape(mport)
            return txt if value(txt, "milter_policy_messages_total", action="accept", stage="eom") == clean \
                and value(txt, "milter_policy_messages_total", action="reject", stage="eom") == 1 else None
        text = wait_for(settled, 10)
        check(text, "the counts did not arrive: " + scrape(mport)[:3000])
        promtool(text)
        want = [
            (("milter_policy_messages_total",), dict(action="reject", stage="mail"), forged),
            (("milter_policy_messages_total",), dict(action="accept", stage="eom"), clean),
            (("milter_policy_messages_total",), dict(action="reject", stage="eom"), 1),
            (("milter_policy_rule_hits_total",), dict(policy="global", rule="spf-fail"), forged),
            (("milter_policy_rule_hits_total",), dict(policy="example.com", rule="exe-in-archive"), 1),
            (("milter_policy_spf_results_total",), dict(result="fail"), forged),
            (("milter_policy_spf_results_total",), dict(result="pass"), clean + 1),
            (("milter_policy_message_duration_seconds_count",), {}, forged + clean + 1),
            (("milter_policy_sessions_open",), {}, 0),
        ]
        for (name,), labels, n in want:
            check(value(text, name, **labels) == n, "%s%s = %s, wanted %d"
                  % (name, labels, value(text, name, **labels), n))
        check(value(text, "milter_policy_dns_queries_total", status="ok") >= 1, "no DNS query counted")
        # no message here is DKIM-signed: no key was decoded, none taken from the cache
        for res in ("hit", "miss"):
            check(value(text, "milter_policy_dkim_key_cache_total", result=res) == 0,
                  "milter_policy_dkim_key_cache_total{result=%s} = %s, wanted 0"
                  % (res, value(text, "milter_policy_dkim_key_cache_total", result=res)))

        # the same numbers in Prometheus
        def prom_has(q, n):
            return _try(lambda: prom_query(pport, q) == [float(n)])
        for q, n in [('sum(milter_policy_rule_hits_total{rule="spf-fail"})', forged),
                     ('milter_policy_messages_total{action="accept",stage="eom"}', clean),
                     ('milter_policy_spf_results_total{result="fail"}', forged)]:
            check(wait_for(lambda: prom_has(q, n), 15), "Prometheus: %s is %s, wanted %d"
                  % (q, _try(lambda: prom_query(pport, q)), n))

        # a failed reload and a good one, counted
        broken = os.path.join(tb.rules, "zz-broken.example.rules")
        with open(broken, "w") as f:
            f.write('rule "x" { when nonsense reject }\n')
        check(wait_for(lambda: value(scrape(mport), "milter_policy_reload_failures_total") == 1, 15),
              "the failed reload was not counted")
        os.unlink(broken)
        check(wait_for(lambda: value(scrape(mport), "milter_policy_reloads_total") == 1, 15),
              "the reload was not counted")
        text = scrape(mport)
        check(value(text, "milter_policy_rule_hits_total", policy="global", rule="spf-fail") == forged,
              "a reload lost the rule's count")

        # status: the same numbers, readable
        st = subprocess.run([tb.binary, "-c", tb.conf, "status"], capture_output=True, text=True)
        check(st.returncode == 0, "status: %s" % st.stderr)
        check(re.search(r"since start\s+%d accepted, %d rejected" % (clean, forged + 1), st.stdout),
              "status:\n" + st.stdout)
        check("spf-fail [global] %d" % forged in st.stdout, "status top rules:\n" + st.stdout)
        check("reloads 1, failed 1" in st.stdout, "status reloads:\n" + st.stdout)
        js = subprocess.run([tb.binary, "-c", tb.conf, "status", "--json"], capture_output=True, text=True)
        o = json.loads(js.stdout)
        check(o["messages"]["since_start"]["reject"] == forged + 1, "status --json %s" % o["messages"])
        html_page(tb, forged)
        print("ok   metrics: promtool, exact counts in the daemon and in Prometheus, reloads, status,"
              " the HTML page in Chromium")
    except Fail as e:
        failed = 1
        print("FAIL metrics: %s" % e)
        print("--- milter-policy log (tail)\n" + tb.milter_log()[-3000:])
    finally:
        tb.close()
    return failed


def html_page(tb, forged):
    """status --html: a page that headless Chromium renders with its charts."""
    page = tb.path("status.html")
    st = subprocess.run([tb.binary, "-c", tb.conf, "status", "--html", page], capture_output=True,
                        text=True)
    check(st.returncode == 0, "status --html: %s" % st.stderr)
    with open(page) as f:
        src = f.read()
    check("<script" not in src and "http://" not in src.replace("http://www.w3.org/2000/svg", ""),
          "the page is not self-contained")
    chrome = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + tb.path("chrome")]
    dom = subprocess.run(chrome + ["--dump-dom", "file://" + page], capture_output=True, text=True,
                         timeout=120)
    check(dom.returncode == 0 and "</html>" in dom.stdout, "chromium --dump-dom: %s" % dom.stderr[-500:])
    for chart in ("chart-timeline", "chart-actions", "chart-rules", "chart-spf", "chart-dkim",
                  "chart-dmarc", "chart-message-latency", "chart-dns-latency"):
        m = re.search(r'<svg[^>]*id="%s"[^>]*>(.*?)</svg>' % chart, dom.stdout, re.S)
        check(m and "<rect" in m.group(1), "chart %s is missing or empty in the rendered page" % chart)
    rules = re.search(r'id="chart-rules".*?</svg>', dom.stdout, re.S).group(0)
    check("spf-fail [global]" in rules and ">%d<" % forged in rules, "top rules chart: %s" % rules[:500])
    shot = tb.path("status.png")
    p = subprocess.run(chrome + ["--screenshot=" + shot, "--window-size=800,2400", "file://" + page],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and os.path.getsize(shot) > 20000, "no screenshot: %s" % p.stderr[-300:])


def _try(fn):
    try:
        return fn()
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
