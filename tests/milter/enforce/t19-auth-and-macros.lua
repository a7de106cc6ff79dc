-- {auth_authen} at MAIL FROM: an authenticated client is accepted there;
-- {tls_version} at HELO is read as tls.
dofile(lib)
local conn = session("198.51.100.7")
mt.macro(conn, SMFIC_HELO, "{tls_version}", "TLSv1.3")
ok(mt.helo(conn, "laptop.example"), "helo")
mt.macro(conn, SMFIC_MAIL, "i", "T19", "{auth_authen}", "alice")
ok(mt.mailfrom(conn, "<spam@blocked.example>"), "mailfrom")
expect(conn, SMFIR_CONTINUE, "MAIL FROM of an authenticated client")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
log_line("id=T19", "rules=trusted-auth action=accept stage=mail")
mt.disconnect(conn)
