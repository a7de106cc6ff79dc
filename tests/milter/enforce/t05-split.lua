-- A recipient of another policy gets 452 4.5.3 (recipient_policy = split).
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T05")
rcpt(conn, "<bob@example.com>")
rcpt(conn, "<carol@other.example>", SMFIR_REPLYCODE)
rcpt(conn, "<dave@example.com>")
headers(conn, { "From", "alice@sender.example" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRADD, "X-Policy", " example.com") then fail("no X-Policy") end
if mt.eom_check(conn, MT_HDRADD, "X-Policy", " other.example") then fail("other.example rules ran") end
log_line("id=T05 rcpt=<carol@other.example> action=defer-split stage=rcpt", 'reply="452 4.5.3 ')
log_line("id=T05", "rcpt=<bob@example.com>,<dave@example.com>", "action=accept")
mt.disconnect(conn)
