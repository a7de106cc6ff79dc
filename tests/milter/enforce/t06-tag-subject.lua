-- Subject tag and an added header, seen by the MTA at end of message.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T06")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example", "Subject", "Offer of the week" })
body_eom(conn, "buy\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRCHANGE, "Subject", " [SPAM] Offer of the week") then fail("Subject not tagged") end
if not mt.eom_check(conn, MT_HDRADD, "X-Spam", " yes") then fail("no X-Spam") end
log_line("id=T06", "rules=com-header,tag action=accept stage=eom rule=- score=3")
mt.disconnect(conn)
