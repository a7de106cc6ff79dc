-- Authentication-Results fields with our authserv-id (compared without
-- regard to case, after comments) are removed, highest index first;
-- others stay; ours goes to the top.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<x@forged.example>", "T23")
rcpt(conn, "<bob@example.com>")
headers(conn, {
	"Authentication-Results", "other.example; spf=pass smtp.mailfrom=x@forged.example",
	"Authentication-Results", "mx.test.example; spf=pass smtp.mailfrom=x@forged.example",
	"From", "x@forged.example",
	"Authentication-Results", "(forged) MX.TEST.EXAMPLE;\n\tdkim=pass header.d=bank.example",
	"Authentication-Results", "mx.test.example.evil; dkim=pass",
})
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results") then fail("forged fields not removed") end
local l = log_line("id=T23 removing Authentication-Results #3")
local l2 = log_line("id=T23 removing Authentication-Results #2")
no_log_line("id=T23 removing Authentication-Results #1")
no_log_line("id=T23 removing Authentication-Results #4")
-- removal comes before insertion; both happen
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
	" mx.test.example;\n\tspf=fail smtp.mailfrom=x@forged.example;\n\tdkim=none;\n\t" ..
	"dmarc=none header.from=forged.example", 0) then
	fail("our field not at the top")
end
mt.disconnect(conn)
