-- Refused at connect: the reply comes with the first command (HELO), and
-- MAIL FROM is refused too.
dofile(lib)
local conn = session("203.0.113.9", "unknown")
expect(conn, SMFIR_CONTINUE, "connect (no reply text allowed there)")
ok(mt.helo(conn, "mail.sender.example"), "helo")
expect(conn, SMFIR_REPLYCODE, "HELO after a connect refusal")
mt.macro(conn, SMFIC_MAIL, "i", "T12")
ok(mt.mailfrom(conn, "<x@sender.example>"), "mailfrom")
expect(conn, SMFIR_REPLYCODE, "MAIL after a connect refusal")
-- a decision line like every other: key=value with action=, stage=, rule=
log_line("client=203.0.113.9 action=reject stage=connect rule=blocked-client reply=",
	"note=\"replied at the first command\"")
mt.disconnect(conn)
