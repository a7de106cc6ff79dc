"""Helpers the end-to-end runners share: messages, sending with swaks,
assertions on replies and on what smtp-sink received, the case loop."""
import os
import re
import sys
import traceback

import authres

from postfix import swaks
from testbed import AUTHSERV, TESTS, wait_for

FIXTURES = os.path.join(TESTS, "dkim", "fixtures")
CLIENT = "198.51.100.7"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def reply(got, want, what):
    check(got is not None and got.startswith(want), "%s: reply %r, wanted %r" % (what, got, want))


def msg(subject, frm="Alice <alice@sender.example>", to="bob@example.com", headers=(),
        body=b"Hello Bob.\r\n"):
    head = ["From: " + frm, "To: " + to, "Subject: " + subject,
            "Date: Thu, 26 Nov 2026 10:00:00 +0000",
            "Message-ID: <%s@e2e.test>" % re.sub(r"[^A-Za-z0-9]", "-", subject)]
    head += list(headers)
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def send(tb, pf, frm, to, data, client=CLIENT, helo="mail.sender.example", extra=()):
    args = ["--from", frm, "--to", ",".join(to if isinstance(to, list) else [to]),
            "--ehlo", helo, "--data", "-"]
    if client:
        args += ["--xclient-addr", client, "--xclient-name", "mail.sender.example"]
    return swaks(pf.port, *(args + list(extra)), data=data)


def ipv6_spf_passed(tb, t, sender, client):
    """An IPv6 client's message was accepted with spf=pass, and the log
    line names the client in its canonical form."""
    reply(t.end_of_data(), "250", "end of data")
    m = delivered(tb)[0]
    check(ar_results(m).get("spf") == "pass", "A-R %s" % m.get_all("Authentication-Results"))
    line = wait_for(lambda: [l for l in tb.milter_log().splitlines()
                             if "from=<%s>" % sender in l and "action=" in l], 5)
    check(line and ("client=%s " % client) in line[0], "log line %s" % line)


def delivered(tb, n=1):
    got = tb.sink_messages(n)
    check(len(got) >= n, "%d message(s) reached smtp-sink, wanted %d" % (len(got), n))
    return got


def rcpts(m):
    """The envelope recipients smtp-sink recorded."""
    return [v.split()[0].strip("<>") for v in m.get_all("X-Rcpt-Args", [])]


def our_ar(m):
    """Our Authentication-Results fields, parsed with python3-authres."""
    out = []
    for v in m.get_all("Authentication-Results", []):
        parsed = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + v)
        if parsed.authserv_id.lower() == AUTHSERV:
            out.append(parsed)
    return out


def ar_results(m):
    ars = our_ar(m)
    check(len(ars) == 1, "%d Authentication-Results fields of ours" % len(ars))
    return {r.method: r.result for r in ars[0].results}


def header_names(m):
    return [k.lower() for k in m.keys()]


def fixture(name):
    with open(os.path.join(FIXTURES, name + ".eml"), "rb") as f:
        return f.read()



def run(tb, start, cases):
    """Starts the testbed (start returns the MTA), runs every case with an
    empty sink, checks that milter-policy exits cleanly; 0 or 1."""
    failed = 0
    try:
        mta = start()
        for fn in cases:
            tb.clear_sink()
            try:
                fn(tb, mta)
                print("ok   %s" % fn.__name__)
            except Fail as e:
                failed += 1
                print("FAIL %s: %s" % (fn.__name__, e))
            except Exception:
                failed += 1
                print("FAIL %s:\n%s" % (fn.__name__, traceback.format_exc()))
            sys.stdout.flush()
        rc = tb._stop_milter()
        if rc != 0:
            failed += 1
            print("FAIL milter-policy exited %s at the end" % rc)
        if failed:
            print("--- milter-policy log (tail)\n" + tb.milter_log()[-4000:])
            print("--- MTA log (tail)\n" + mta.log()[-4000:])
    finally:
        tb.close()
    print("%d cases, %d failed" % (len(cases), failed))
    return 1 if failed else 0
