-- mode = dry-run: nothing refused, nothing changed, no split 452; what
-- enforce mode would have done is logged.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<spam@blocked.example>", "D01")
rcpt(conn, "<closed@example.com>")
rcpt(conn, "<carol@other.example>")
headers(conn, { "From", "spam@blocked.example", "Subject", "Offer" })
body_eom(conn, "forbidden phrase\r\n", SMFIR_CONTINUE)
if mt.eom_check(conn, MT_HDRADD) or mt.eom_check(conn, MT_HDRCHANGE) then fail("dry-run changed headers") end
log_line("id=D01", "action=accept", "mode=dry-run", 'would="reject at mail"', 'would_reply="550 5.7.1 Sender spam@blocked.example refused"')
mt.disconnect(conn)
