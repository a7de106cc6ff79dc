-- A per-recipient reject and tempfail at RCPT; the other recipient gets
-- the message. One log line per refused recipient.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T04")
rcpt(conn, "<closed@example.com>", SMFIR_REPLYCODE)
rcpt(conn, "<full@example.com>", SMFIR_REPLYCODE)
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example", "Subject", "hi" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
log_line("id=T04 rcpt=<closed@example.com> action=reject stage=rcpt rule=closed", 'reply="550 5.1.1 Mailbox closed"')
log_line("id=T04 rcpt=<full@example.com> action=tempfail stage=rcpt rule=full", 'reply="452 4.2.2 Mailbox full"')
log_line("id=T04", "rcpt=<bob@example.com> policy=example.com", "action=accept stage=eom")
mt.disconnect(conn)
