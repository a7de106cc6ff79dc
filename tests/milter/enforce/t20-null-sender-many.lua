-- Several messages on one connection: null sender, folded and 8-bit
-- header values, an empty body.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<>", "T20a")
rcpt(conn, "<postmaster@example.com>")
headers(conn, { "From", "MAILER-DAEMON@sender.example", "Subject", "Undelivered\n\tMail Returned", "X-Raw", "caf\233 \255" })
body_eom(conn, nil, SMFIR_CONTINUE)
log_line("id=T20a", "from=<>", "action=accept")
for i = 1, 5 do
	mt.macro(conn, SMFIC_MAIL, "i", "T20n" .. i)
	ok(mt.mailfrom(conn, "<a" .. i .. "@sender.example>"), "mailfrom")
	rcpt(conn, "<bob@example.com>")
	headers(conn, { "From", "a@sender.example" })
	body_eom(conn, "n\r\n", SMFIR_CONTINUE)
end
log_line("id=T20n5", "from=<a5@sender.example>", "action=accept")
mt.disconnect(conn)
