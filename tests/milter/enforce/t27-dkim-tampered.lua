-- Bank mail whose body changed after signing: dkim=fail, so the bank rule
-- tags it (Subject and a warning header), as the daemon reports; then
-- unsigned bank mail, tagged the same way.
dofile(lib)
local msg = fixtures .. "/bank-tampered.eml"
local conn = session("198.51.100.7")
start_mail(conn, "<alerts@bank.example>", "T27")
rcpt(conn, "<bob@example.com>")
data(conn)
send_file(conn, msg)
ok(mt.eom(conn), "eom")
expect(conn, SMFIR_CONTINUE, "end of message")
if not mt.eom_check(conn, MT_HDRCHANGE, "Subject", " [SUSPECT] statement five") then fail("Subject not tagged") end
if not mt.eom_check(conn, MT_HDRADD, "X-Policy-Warning", " unsigned mail claiming bank.example") then
	fail("no warning header")
end
local ar = "mx.test.example;\n\tspf=pass smtp.mailfrom=alerts@bank.example;\n\t" ..
	"dkim=fail header.d=bank.example header.s=s2048 header.b=" .. dkim_b8(msg) .. ";\n\t" ..
	-- SPF passes for bank.example, aligned: DMARC passes without DKIM
	"dmarc=pass (p=reject dis=none) header.from=bank.example"
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", " " .. ar, 0) then
	fail("no Authentication-Results with dkim=fail")
end
local parsed = authres_parse(ar)
if parsed ~= "spf=pass  \ndkim=fail bank.example s2048\ndmarc=pass  \n" then fail("python3-authres: " .. parsed) end
log_line("id=T27", "spf=pass dkim=fail dmarc=pass rules=com-header,unsigned-bank action=accept")
-- and unsigned bank mail on the same connection: dkim=none, tagged too
start_mail(conn, "<alerts@bank.example>", "T27b")
rcpt(conn, "<bob@example.com>")
data(conn)
send_file(conn, fixtures .. "/bank-unsigned.eml")
ok(mt.eom(conn), "eom")
expect(conn, SMFIR_CONTINUE, "end of message")
if not mt.eom_check(conn, MT_HDRCHANGE, "Subject", " [SUSPECT] statement six") then fail("unsigned not tagged") end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
	" mx.test.example;\n\tspf=pass smtp.mailfrom=alerts@bank.example;\n\tdkim=none;\n\t" ..
	"dmarc=pass (p=reject dis=none) header.from=bank.example", 0) then
	fail("no Authentication-Results with dkim=none")
end
log_line("id=T27b", "dkim=none dmarc=pass rules=com-header,unsigned-bank action=accept")
mt.disconnect(conn)
