-- Scores add up to threshold 5: quarantined with the score in the reason;
-- a log action writes its own line.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T18")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example", "Subject", "offer", "X-Score", "high" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_QUARANTINE, "score 7") then fail("not quarantined by the threshold") end
if not mt.eom_check(conn, MT_HDRCHANGE, "Subject", " [SPAM] offer") then fail("not tagged") end
log_line("id=T18", "action=quarantine stage=eom", 'quarantine="score 7"', "score=7")
conn2 = session("198.51.100.7")
start_mail(conn2, "<alice@sender.example>", "T18b")
rcpt(conn2, "<bob@example.com>")
headers(conn2, { "From", "alice@sender.example", "Subject", "loud" })
body_eom(conn2, "x\r\n", SMFIR_CONTINUE)
log_line("id=T18b", 'log="rule loud: loud message from alice@sender.example"')
mt.disconnect(conn)
mt.disconnect(conn2)
