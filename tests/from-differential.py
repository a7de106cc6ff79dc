#!/usr/bin/python3
"""Differential check of the From parser (mail/address.c) against Python's
email.headerregistry (an independent RFC 5322 parser).

For every value Python parses without a defect, we must find the same
addresses, none of them malformed. Where Python finds a defect, we must
either find the same addresses or mark what we found malformed: never a
clean address Python would not give. Python decodes RFC 2047 words before
it parses addresses, which SPEC §8 forbids: so Python is given each value
with its encoded words replaced by a plain atom, and our addresses get the
same replacement - an encoded word is an atom, never syntax. Values: a hand-written list of hostile and ordinary forms,
and random combinations of their pieces from a fixed seed.

Usage: from-differential.py ADDR-DUMP
"""
import random
import re
import subprocess
import sys
from email.headerregistry import HeaderRegistry

DUMP = sys.argv[1]
FIXED = [
    'Alice <alice@sender.example>',
    '"Doe, John" <j@x.example>, k@y.example (Kay)',
    '=?utf-8?q?=22?= <ceo@bank.example>',
    '=?utf-8?q?Doe=2C_John?= <john@example.org>',
    '=?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?= <real@x.example>',
    '<a@x.example> <ceo@bank.example>',
    '"Bank <ceo@bank.example>',
    '(Bank <ceo@bank.example>',
    'Bank <ceo@bank.example',
    'a@b.example (sent for ceo@bank.example)',
    '"ceo@bank.example" <real@x.example>',
    'Team: a@b.example, c@d.example;',
    '"quoted local"@q.example',
    'ceo@bank.example',
    'Alice\r\n <alice@folded.example>',
    '<>',
    'just-a-name',
    'a@b.example, c@d.example',
    'Äpfel <apfel@x.example>',
    '"a\\"b"@q.example',
    '<ceo@bank.example> (comment <x@y.example>)',
]
PIECES = ['Alice', '"Doe, John"', '=?utf-8?q?=22?=', '=?utf-8?q?a=2C_b?=', '<', '>', '"', '(c)', '(',
          ')', 'a@x.example', 'ceo@bank.example', ',', ';', ':', ' ', '\\', '@', 'x.example', '.']


def norm(addr):
    """(local part without quoting, lowercased domain) of an addr-spec."""
    at = addr.rfind("@")
    local, dom = (addr[:at], addr[at + 1:]) if at >= 0 else (addr, "")
    out, i = "", 0
    while i < len(local):
        c = local[i]
        if c == "\\" and i + 1 < len(local):
            out += local[i + 1]
            i += 2
            continue
        if c != '"':
            out += c
        i += 1
    return out, dom.lower()


ENCODED = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def atoms(text):
    return ENCODED.sub("encodedword", text)


def python_addrs(value):
    h = HeaderRegistry()("From", value)
    addrs = []
    for a in h.addresses:
        addrs.append(a.addr_spec)
    return addrs, bool(h.defects) or any(
        getattr(t, "defects", None) for t in getattr(h, "_parse_tree", []) or [])


def valid_value(rng):
    """A well-formed From value: mailboxes with display names, comments,
    quoted local parts, encoded words, groups."""
    def local():
        return rng.choice(["alice", "j.doe", "x+tag", '"quoted local"', '"a\\"b"', "ceo", "o'brien"])

    def domain():
        return rng.choice(["bank.example", "x.example", "Sub.Example.ORG", "[192.0.2.1]", "a-b.example"])

    def name():
        return rng.choice(["Alice", '"Doe, John"', "=?utf-8?q?=22?=", "=?utf-8?q?Doe=2C_John?=",
                           "=?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?=", "Bank Support", '"ceo@bank.example"'])

    def mailbox():
        addr = "%s@%s" % (local(), domain())
        form = rng.randrange(4)
        if form == 0:
            return addr
        if form == 1:
            return "%s <%s>" % (name(), addr)
        if form == 2:
            return "%s (%s)" % (addr, rng.choice(["comment", "nested (c)", "ceo@bank.example"]))
        return "<%s>" % addr
    parts = [mailbox() for _ in range(rng.randrange(1, 4))]
    if rng.randrange(5) == 0:
        return "%s: %s;" % (rng.choice(["Team", "Big Team", '"Our team"']), ", ".join(parts))
    return ", ".join(parts)


def main():
    rng = random.Random(10)
    values = list(FIXED)
    for _ in range(3000):
        values.append("".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 9))))
    for _ in range(1000):
        values.append(valid_value(rng))
    data = b"\0".join(v.encode() for v in values) + b"\0"
    out = subprocess.run([DUMP], input=data, capture_output=True, check=True).stdout.decode()
    ours = out.split("\n")[:len(values)]
    checked = agree = differ = 0
    bad = []
    for v, line in zip(values, ours):
        try:
            py, defective = python_addrs(atoms(v))
        except Exception:  # Python's parser gives up: nothing to compare
            continue
        found = [w for w in line.split("\t") if w]
        clean = [norm(atoms(w)) for w in found if not w.endswith("!")]
        pyn = [norm(a) for a in py]
        checked += 1
        if not defective and py and all(a and a != "<>" for a in py):
            # a clean value: the same addresses, none malformed
            if clean != pyn or len(found) != len(clean):
                bad.append((v, py, found))
            else:
                agree += 1
        else:
            # a defect for Python: what we call clean must be what it gives
            if any(c not in pyn for c in clean):
                bad.append((v, py, found))
            else:
                differ += 1
    for v, py, found in bad[:20]:
        print("DIFF %r: python %s, ours %s" % (v, py, found))
    print("%d values compared: %d agree, %d defective for Python and safe here, %d differ"
          % (checked, agree, differ, len(bad)))
    print("%d passed, %d failed" % (checked - len(bad), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
