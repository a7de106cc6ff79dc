-- remove header deletes every occurrence.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T16")
rcpt(conn, "<bob@example.com>")
headers(conn, { "X-Internal", "one", "From", "alice@sender.example", "X-Internal", "two" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRDELETE, "X-Internal") then fail("X-Internal not deleted") end
log_line("id=T16", "rules=com-header,strip action=accept")
mt.disconnect(conn)
