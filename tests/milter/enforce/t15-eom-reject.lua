-- Refused at end of message by a body rule; the reply text, with its '%'
-- doubled for libmilter, is what the MTA receives.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T15")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example", "Subject", "hi" })
body_eom(conn, "this has a forbidden phrase in it\r\n", SMFIR_REPLYCODE)
if not mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Body refused by body-bad: 100%% sure") then fail("wrong reply") end
if mt.eom_check(conn, MT_HDRADD) then fail("headers added to a rejected message") end
log_line("id=T15", "rules=com-header,body-bad action=reject stage=eom", 'reply="550 5.7.1 Body refused by body-bad: 100% sure"')
mt.disconnect(conn)
