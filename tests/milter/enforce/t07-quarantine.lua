-- quarantine: the reason reaches the MTA at end of message.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T07")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example", "Subject", "hold me" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_QUARANTINE, "held for review") then fail("not quarantined") end
log_line("id=T07", "action=quarantine stage=header", 'quarantine="held for review"')
mt.disconnect(conn)
