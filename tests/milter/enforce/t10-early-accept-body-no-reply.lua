-- Accepted at MAIL FROM. These rules read the body and DKIM is on, so the
-- daemon asked for no reply to body chunks (SMFIP_NR_BODY): the body goes
-- by without a round trip, and the end of the message answers.
-- (tests/milter/no-body: a rule set that reads no body still skips it.)
dofile(lib)
local conn = session("198.51.100.7")
if not mt.test_option(conn, SMFIP_NR_BODY_) then fail("NR_BODY not negotiated") end
start_mail(conn, "<pal@friend.example>", "T10")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "pal@friend.example", "Content-Type", "application/x; name=\"a.exe\"" })
ok(mt.bodystring(conn, "forbidden phrase\r\n"), "body")
ok(mt.bodystring(conn, "more forbidden phrase\r\n"), "body")
body_eom(conn, nil, SMFIR_CONTINUE)
log_line("id=T10", "rules=early-accept action=accept stage=mail")
mt.disconnect(conn)
