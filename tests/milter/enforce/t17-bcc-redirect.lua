-- bcc adds a recipient; redirect replaces the recipients.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<a@archive.example>", "T17a")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "a@archive.example" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_RCPTADD, "archive@example.net") then fail("no bcc") end
if mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>") then fail("bcc deleted a recipient") end
mt.macro(conn, SMFIC_MAIL, "i", "T17b")
ok(mt.mailfrom(conn, "<d@divert.example>"), "mailfrom")
rcpt(conn, "<bob@example.com>")
rcpt(conn, "<dave@example.com>")
headers(conn, { "From", "d@divert.example" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.com>") then fail("bob not removed") end
if not mt.eom_check(conn, MT_RCPTDELETE, "<dave@example.com>") then fail("dave not removed") end
if not mt.eom_check(conn, MT_RCPTADD, "trap@example.net") then fail("no redirect") end
mt.disconnect(conn)
