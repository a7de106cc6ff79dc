-- A clean message: accepted at end of message; the policy header and the
-- trace header are added; one log line in the documented form.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T01")
rcpt(conn, "<bob@example.com>")
data(conn)
headers(conn, { "From", "Alice <alice@sender.example>", "Subject", "lunch" })
body_eom(conn, "Hi Bob.\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRADD, "X-Policy", " example.com") then fail("no X-Policy") end
if not mt.eom_check(conn, MT_HDRADD, "X-Policy-Trace", " rules=com-header; action=accept; stage=eom; score=0") then fail("no trace header") end
if mt.eom_check(conn, MT_HDRCHANGE) then fail("a header was changed") end
-- SPF (pass, from the test zone) and DKIM (none) run for the header
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
	" mx.test.example;\n\tspf=pass smtp.mailfrom=alice@sender.example;\n\tdkim=none;\n\t" ..
	"dmarc=none header.from=sender.example", 0) then
	fail("no Authentication-Results at the top")
end
if not mt.eom_check(conn, MT_HDRINSERT, "Received-SPF") then fail("no Received-SPF") end
if mt.eom_check(conn, MT_HDRDELETE) then fail("a header was deleted") end
log_line("id=T01 client=198.51.100.7 helo=mail.sender.example from=<alice@sender.example> rcpt=<bob@example.com> policy=example.com spf=pass dkim=none rules=com-header action=accept stage=eom rule=- score=0 ms=")
mt.disconnect(conn)
