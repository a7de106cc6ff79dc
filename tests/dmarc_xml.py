"""A checker of DMARC aggregate reports written from RFC 7489 Appendix C
(the XML schema): each element's children, their order ("sequence") or
not ("all"), how often each may occur, and the type or the values of each
element's text. check(xml_bytes) returns a list of problems ([] when the
report follows the schema)."""
import re
import xml.etree.ElementTree as ET

INT = re.compile(r"^-?[0-9]+$")
DEC = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
IPV4 = r"((1?[0-9]?[0-9]|2[0-4][0-9]|25[0-5])\.){3}(1?[0-9]?[0-9]|2[0-4][0-9]|25[0-5])"
IPV6 = r"([A-Fa-f0-9]{0,4}:){2,7}[A-Fa-f0-9]{0,4}"
IP = re.compile("^(%s|%s)$" % (IPV4, IPV6))

DISPOSITION = {"none", "quarantine", "reject"}
ALIGNMENT = {"r", "s"}
DMARC_RESULT = {"pass", "fail"}
OVERRIDE = {"forwarded", "sampled_out", "trusted_forwarder", "mailing_list", "local_policy", "other"}
DKIM_RESULT = {"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"}
SPF_SCOPE = {"helo", "mfrom"}
SPF_RESULT = {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}

# element -> ("seq" | "all", [(child, min, max)]) or a text type
SCHEMA = {
    "feedback": ("seq", [("version", 1, 1), ("report_metadata", 1, 1), ("policy_published", 1, 1),
                         ("record", 1, None)]),
    "version": DEC,
    "report_metadata": ("seq", [("org_name", 1, 1), ("email", 1, 1), ("extra_contact_info", 0, 1),
                                ("report_id", 1, 1), ("date_range", 1, 1), ("error", 0, None)]),
    "org_name": str, "email": str, "extra_contact_info": str, "report_id": str, "error": str,
    "date_range": ("all", [("begin", 1, 1), ("end", 1, 1)]),
    "begin": INT, "end": INT,
    "policy_published": ("all", [("domain", 1, 1), ("adkim", 0, 1), ("aspf", 0, 1), ("p", 1, 1),
                                 ("sp", 1, 1), ("pct", 1, 1), ("fo", 1, 1)]),
    "domain": str, "adkim": ALIGNMENT, "aspf": ALIGNMENT, "p": DISPOSITION, "sp": DISPOSITION,
    "pct": INT, "fo": str,
    "record": ("seq", [("row", 1, 1), ("identifiers", 1, 1), ("auth_results", 1, 1)]),
    "row": ("seq", [("source_ip", 1, 1), ("count", 1, 1), ("policy_evaluated", 1, 1)]),
    "source_ip": IP, "count": INT,
    "policy_evaluated": ("seq", [("disposition", 1, 1), ("dkim", 1, 1), ("spf", 1, 1),
                                 ("reason", 0, None)]),
    "disposition": DISPOSITION,
    "reason": ("all", [("type", 1, 1), ("comment", 0, 1)]),
    "type": OVERRIDE, "comment": str,
    "identifiers": ("all", [("envelope_to", 0, 1), ("header_from", 1, 1)]),
    "envelope_to": str, "header_from": str,
    "auth_results": ("seq", [("dkim", 0, None), ("spf", 1, None)]),
    "selector": str, "human_result": str, "scope": SPF_SCOPE,
}
# names used in more than one place, by their parent
CONTEXT = {
    ("policy_evaluated", "dkim"): DMARC_RESULT,
    ("policy_evaluated", "spf"): DMARC_RESULT,
    ("auth_results", "dkim"): ("all", [("domain", 1, 1), ("selector", 0, 1), ("result", 1, 1),
                                       ("human_result", 0, 1)]),
    ("auth_results", "spf"): ("all", [("domain", 1, 1), ("scope", 1, 1), ("result", 1, 1)]),
    ("dkim", "result"): DKIM_RESULT,
    ("spf", "result"): SPF_RESULT,
}


def _rule(parent, name):
    return CONTEXT.get((parent, name), SCHEMA.get(name))


def _check(el, parent, path, problems):
    rule = _rule(parent, el.tag)
    where = path + "/" + el.tag
    if rule is None:
        problems.append("%s: not in the schema" % where)
        return
    if isinstance(rule, tuple):
        kind, children = rule
        names = [c.tag for c in el]
        allowed = [c[0] for c in children]
        for n in names:
            if n not in allowed:
                problems.append("%s: unexpected <%s>" % (where, n))
        for name, lo, hi in children:
            k = names.count(name)
            if k < lo or (hi is not None and k > hi):
                problems.append("%s: <%s> occurs %d times" % (where, name, k))
        if kind == "seq":
            order = [allowed.index(n) for n in names if n in allowed]
            if order != sorted(order):
                problems.append("%s: children out of order: %s" % (where, names))
        if (el.text or "").strip():
            problems.append("%s: text where elements belong" % where)
        for c in el:
            _check(c, el.tag, where, problems)
        return
    text = el.text or ""
    if len(el):
        problems.append("%s: elements inside a text element" % where)
    if rule is str:
        return
    if isinstance(rule, set):
        if text not in rule:
            problems.append("%s: %r not one of %s" % (where, text, sorted(rule)))
    elif not rule.match(text):
        problems.append("%s: %r is not of its type" % (where, text))


def check(xml_bytes):
    problems = []
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as e:
        return ["not well-formed: %s" % e]
    if root.tag != "feedback":
        return ["the root is <%s>, not <feedback>" % root.tag]
    _check(root, None, "", problems)
    return problems


def counts(xml_bytes):
    """(policy domain, {(source_ip, disposition, dkim, spf, reason or None): count})"""
    root = ET.fromstring(xml_bytes)
    out = {}
    for rec in root.findall("record"):
        row = rec.find("row")
        pe = row.find("policy_evaluated")
        key = (row.findtext("source_ip"), pe.findtext("disposition"), pe.findtext("dkim"),
               pe.findtext("spf"), pe.findtext("reason/type"))
        out[key] = out.get(key, 0) + int(row.findtext("count"))
    return root.find("policy_published").findtext("domain"), out
