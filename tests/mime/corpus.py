"""The MIME test corpus (SPEC §11), generated: each case is a message made
with Python's email package (archives with zipfile, tarfile, gzip, and the
zip and 7z programs where installed) and the MIME fields `milter-policy
test --json` must report for it. tests/mime-corpus.py runs it;
bench/engine's MIME configuration reads the same messages.

build(dir) writes NAME.eml for every case and returns the cases:
(name, expected), expected holding "mime" (field name -> value, compared
exactly; "text~" a list of substrings the text must hold, "text!~" ones
it must not) and optionally "action", "reply", "limit".
"""
import gzip
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from email import encoders
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

HEAD = {"From": "Sender <sender@example.org>", "To": "rcpt@example.com",
        "Subject": "corpus", "Date": "Sun, 29 Nov 2026 10:00:00 +0000",
        "Message-ID": "<corpus@example.org>"}


def pe():
    """A minimal PE executable: what libmagic calls a PE."""
    d = bytearray(4096)
    d[0:2] = b"MZ"
    d[0x3c] = 0x80
    d[0x80:0x84] = b"PE\0\0"
    d[0x84:0x86] = b"\x4c\x01"
    return bytes(d)


PNG = (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0"
       b"\x1f\xf3\xffa" + b"\0" * 32)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def top(msg):
    for k, v in HEAD.items():
        if k not in msg:
            msg[k] = v
    return msg


def attach(data, maintype, subtype, filename=None, name=None, disposition="attachment"):
    p = MIMEBase(maintype, subtype)
    p.set_payload(data)
    encoders.encode_base64(p)
    if name is not None:
        p.set_param("name", name)
    if filename is not None:
        p.add_header("Content-Disposition", disposition, filename=filename)
    elif disposition:
        p.add_header("Content-Disposition", disposition)
    return p


def mixed(*parts, text="Hello, see the attachment."):
    m = MIMEMultipart("mixed")
    m.attach(MIMEText(text, "plain", "utf-8"))
    for p in parts:
        m.attach(p)
    return top(m)


def zip_bytes(entries, compression=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:
        for name, data in entries:
            z.writestr(name, data)
    return b.getvalue()


def tar_bytes(entries, mode="w"):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode=mode) as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def tool_archive(argv, files, out_name):
    """An archive made by an installed program from files (name -> bytes)."""
    with tempfile.TemporaryDirectory() as d:
        for n, data in files.items():
            with open(os.path.join(d, n), "wb") as f:
                f.write(data)
        subprocess.run(argv + [out_name] + list(files), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(d, out_name), "rb") as f:
            return f.read()


def raw(text):
    """A message written by hand (LF line ends; the runner sends CRLF)."""
    return text.encode("utf-8", "surrogateescape")


def cases():
    out = []

    def case(name, msg, **expected):
        out.append((name, msg if isinstance(msg, bytes) else msg.as_bytes(), expected))

    # nested multiparts: mixed > (alternative > plain, related > html, image), pdf
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("Plain words here.", "plain", "utf-8"))
    rel = MIMEMultipart("related")
    rel.attach(MIMEText("<html><head><style>p{color:red}</style><script>var x='hidden';</script></head>"
                        "<body><p>Rich &amp; <b>bold</b> words&nbsp;&#8364;5<!-- a comment --></p></body></html>",
                        "html", "utf-8"))
    img = MIMEBase("image", "png")
    img.set_payload(PNG)
    encoders.encode_base64(img)
    img.add_header("Content-ID", "<img1>")
    rel.attach(img)
    alt.attach(rel)
    m = MIMEMultipart("mixed")
    m.attach(alt)
    m.attach(attach(PDF, "application", "pdf", filename="report.pdf"))
    case("nested", top(m), mime={
        "mime.parts": 7, "mime.depth": 4, "mime.malformed": False,
        "mime.type": ["multipart/mixed", "multipart/alternative", "text/plain",
                      "multipart/related", "text/html", "image/png", "application/pdf"],
        "attachment.count": 2, "attachment.name": ["report.pdf"], "attachment.ext": ["pdf"],
        "attachment.type": ["image/png", "application/pdf"],
        "attachment.detected": ["image/png", "application/pdf"],
        "attachment.size": [len(PNG), len(PDF)],
        "text~": ["Plain words here.", "Rich & ", "bold", "words \u20ac5"],
        "text!~": ["hidden", "color:red", "a comment", "<b>", "&amp;"]})

    # an attached message with an exe inside
    inner = mixed(attach(pe(), "application", "octet-stream", filename="inner.exe"),
                  text="Forwarded text.")
    fwd = MIMEMultipart("mixed")
    fwd.attach(MIMEText("See the forwarded message.", "plain", "utf-8"))
    fwd.attach(MIMEMessage(inner))
    case("rfc822", top(fwd), mime={
        "mime.parts": 6, "mime.depth": 4, "attachment.count": 2,
        "attachment.name": ["inner.exe"], "attachment.ext": ["exe"],
        "attachment.type": ["message/rfc822", "application/octet-stream"],
        "attachment.detected": ["message/rfc822", "application/vnd.microsoft.portable-executable"],
        "text~": ["See the forwarded message.", "Forwarded text."]})

    # RFC 2231: charset-encoded and continued filename; a different Content-Type name
    case("rfc2231", raw(
        "From: a@example.org\nTo: b@example.com\nSubject: 2231\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
        "--B\nContent-Type: text/plain\n\nbody\n"
        "--B\nContent-Type: application/octet-stream; name=\"plain.zip\"\n"
        "Content-Disposition: attachment;\n filename*0*=utf-8''r%C3%A9sum;\n filename*1*=%C3%A9.EXE\n"
        "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--B--\n"), mime={
        "attachment.name": ["r\u00e9sum\u00e9.EXE", "plain.zip"], "attachment.ext": ["exe", "zip"],
        "attachment.count": 1, "attachment.size": [12], "mime.malformed": False})

    # name only in Content-Type, RFC 2047 encoded
    case("ct-name-2047", raw(
        "From: a@example.org\nTo: b@example.com\nSubject: 2047\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
        "--B\nContent-Type: text/plain\n\nbody\n"
        "--B\nContent-Type: application/pdf; name=\"=?utf-8?q?Rechnung_M=C3=A4rz=2Epdf?=\"\n"
        "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--B--\n"), mime={
        "attachment.name": ["Rechnung M\u00e4rz.pdf"], "attachment.ext": ["pdf"],
        "attachment.detected": ["application/pdf"], "attachment.size": [9]})

    # uuencoded (x-uuencode): decoded by GMime; not required by SPEC, must not break
    case("uuencode", raw(
        "From: a@example.org\nTo: b@example.com\nSubject: uu\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
        "--B\nContent-Type: text/plain\n\nbody\n"
        "--B\nContent-Type: application/octet-stream; name=\"a.bin\"\n"
        "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 a.bin\n#86)C\n`\nend\n--B--\n"), mime={
        "attachment.name": ["a.bin"], "attachment.size": [3], "mime.malformed": False})

    # broken structure
    case("boundary-unused", raw(
        "From: a@example.org\nTo: b@example.com\nSubject: b\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"NEVER\"\n\nno parts here\n"), mime={
        "mime.malformed": True})
    case("no-close", raw(
        "From: a@example.org\nTo: b@example.com\nSubject: b\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
        "--B\nContent-Type: text/plain\n\ncut short\n"
        "--B\nContent-Type: application/pdf; name=\"x.pdf\"\n\n%PDF-1.4\n"), mime={
        "mime.malformed": True, "attachment.name": ["x.pdf"], "mime.parts": 3})
    case("no-boundary", raw(
        "From: a@example.org\nTo: b@example.com\nSubject: b\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed\n\n--X\nContent-Type: text/plain\n\nx\n--X--\n"), mime={
        "mime.malformed": True})
    case("bad-base64", raw(
        "From: a@example.org\nTo: b@example.com\nSubject: b\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
        "--B\nContent-Type: application/octet-stream; name=\"x.bin\"\n"
        "Content-Transfer-Encoding: base64\n\nTVqQ*!!AAMAAAA\n--B--\n"), mime={
        "mime.malformed": True})
    case("unknown-encoding", raw(
        "From: a@example.org\nTo: b@example.com\nSubject: b\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
        "--B\nContent-Type: application/octet-stream; name=\"x.bin\"\n"
        "Content-Transfer-Encoding: x-rot13\n\nabc\n--B--\n"), mime={
        "mime.malformed": True})

    # 8-bit garbage: headers and a text part with invalid UTF-8 and NULs
    garbage = (b"From: a@example.org\nTo: b@example.com\nSubject: \xff\xfe garbage\n"
               b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
               b"Content-Transfer-Encoding: 8bit\n\nok \xc3\x28 \xff\x00 end\n")
    case("8bit-garbage", garbage, mime={
        "mime.parts": 1, "attachment.count": 0, "text~": ["ok \ufffd( \ufffd", "end"]})

    # a charset other than UTF-8
    lat = MIMEText("caf\u00e9 cr\u00e8me", "plain", "iso-8859-1")
    case("latin1", top(lat), mime={"text~": ["caf\u00e9 cr\u00e8me"], "mime.type": ["text/plain"]})

    # an executable that says it is a PDF
    case("exe-as-pdf", mixed(attach(pe(), "application", "pdf", filename="invoice.pdf")), mime={
        "attachment.ext": ["pdf"], "attachment.type": ["application/pdf"],
        "attachment.detected": ["application/vnd.microsoft.portable-executable"]})

    # archives, recognised by content
    z = zip_bytes([("docs/readme.txt", b"hello"), ("setup.exe", pe())])
    case("zip-exe", mixed(attach(z, "application", "zip", filename="files.zip")), mime={
        "archive.name": ["docs/readme.txt", "setup.exe"], "archive.encrypted": False,
        "attachment.detected": ["application/zip"]})
    case("zip-named-dat", mixed(attach(z, "application", "octet-stream", filename="data.dat")),
         mime={"archive.name": ["docs/readme.txt", "setup.exe"], "attachment.ext": ["dat"]})
    nested = zip_bytes([("inner.zip", zip_bytes([("deep.exe", pe())]))])
    case("zip-nested", mixed(attach(nested, "application", "zip", filename="outer.zip")), mime={
        "archive.name": ["inner.zip"]})
    case("tar", mixed(attach(tar_bytes([("a/run.exe", pe()), ("a/b.txt", b"x")]),
                             "application", "x-tar", filename="t.tar")), mime={
        "archive.name": ["a/run.exe", "a/b.txt"]})
    case("tar-gz", mixed(attach(tar_bytes([("run.exe", pe())], "w:gz"),
                                "application", "gzip", filename="t.tgz")), mime={
        "archive.name": ["run.exe"]})
    gz = io.BytesIO()
    with gzip.GzipFile(filename="payload.exe", mode="wb", fileobj=gz, mtime=0) as g:
        g.write(pe())
    case("gzip-one-file", mixed(attach(gz.getvalue(), "application", "gzip", filename="p.gz")),
         mime={"archive.name": ["payload.exe"]})
    case("zip-broken", mixed(attach(z[:40] + b"\0" * 100, "application", "zip", filename="b.zip")),
         mime={"mime.malformed": True})
    if shutil.which("zip"):
        enc = tool_archive(["zip", "-q", "-P", "secret"], {"secret.exe": pe()}, "e.zip")
        case("zip-encrypted", mixed(attach(enc, "application", "zip", filename="e.zip")), mime={
            "archive.name": ["secret.exe"], "archive.encrypted": True})
    if shutil.which("7z"):
        s7 = tool_archive(["7z", "a", "-bd"], {"tool.exe": pe(), "notes.txt": b"n"}, "a.7z")
        case("7z", mixed(attach(s7, "application", "x-7z-compressed", filename="a.7z")), mime={
            "archive.name~": ["tool.exe", "notes.txt"], "archive.encrypted": False})
        s7e = tool_archive(["7z", "a", "-bd", "-psecret", "-mhe=on"], {"hidden.exe": pe()}, "e.7z")
        case("7z-encrypted-index", mixed(attach(s7e, "application", "x-7z-compressed",
                                                filename="e.7z")), mime={
            "archive.name": [], "archive.encrypted": True})

    # sizes: a 20 MB attachment
    big = bytes(range(256)) * (20 * 1024 * 1024 // 256)
    case("20mb", mixed(attach(big, "application", "octet-stream", filename="big.bin")), mime={
        "attachment.size": [20 * 1024 * 1024], "attachment.count": 1})

    # limits
    many = MIMEMultipart("mixed")
    for i in range(1000):
        many.attach(MIMEText("part %d" % i, "plain", "utf-8"))
    case("1000-parts", top(many), mime={"mime.parts": 500}, limit="mime_parts",
         action="tempfail", reply="451 4.7.0 Message exceeds the mime_parts limit")
    deep = MIMEText("at the bottom", "plain", "utf-8")
    for i in range(49):
        outer = MIMEMultipart("mixed")
        outer.attach(deep)
        deep = outer
    case("depth-50", top(deep), mime={"mime.depth": 20}, limit="mime_depth", action="tempfail",
         reply="451 4.7.0 Message exceeds the mime_depth limit")
    bomb = zip_bytes([("f%04d.txt" % i, b"") for i in range(1500)], zipfile.ZIP_STORED)
    case("bomb-entries", mixed(attach(bomb, "application", "zip", filename="bomb.zip")),
         mime={"archive.name#": 1000}, limit="archive_entries", action="tempfail",
         reply="451 4.7.0 Message exceeds the archive_entries limit")
    ratio = zip_bytes([("zeros.bin", b"\0" * (200 * 1024 * 1024))])
    case("bomb-ratio", mixed(attach(ratio, "application", "zip", filename="ratio.zip")),
         mime={"archive.name": ["zeros.bin"]}, action="accept")
    # an exe found before the part limit still decides (global.rules: exe)
    before = MIMEMultipart("mixed")
    before.attach(attach(pe(), "application", "octet-stream", filename="first.exe"))
    for i in range(600):
        before.attach(MIMEText("p", "plain", "utf-8"))
    case("exe-before-limit", top(before), mime={"attachment.ext": ["exe"]}, limit="mime_parts",
         action="reject", reply="550 5.7.1 Executable attachment first.exe")
    return out


def build(directory):
    os.makedirs(directory, exist_ok=True)
    result = []
    for name, data, expected in cases():
        path = os.path.join(directory, name + ".eml")
        with open(path, "wb") as f:
            f.write(data)
        result.append((name, path, expected))
    return result
