-- Accepted at MAIL FROM: the body is not wanted (SMFIS_SKIP).
dofile(lib)
local conn = session("198.51.100.7")
if not mt.test_option(conn, SMFIP_SKIP) then fail("SKIP not negotiated") end
start_mail(conn, "<pal@friend.example>", "T10")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "pal@friend.example", "Content-Type", "application/x; name=\"a.exe\"" })
ok(mt.bodystring(conn, "forbidden phrase\r\n"), "body")
expect(conn, SMFIR_SKIP, "body after an accept")
body_eom(conn, nil, SMFIR_CONTINUE)
log_line("id=T10", "rules=early-accept action=accept stage=mail")
mt.disconnect(conn)
