-- Neither DKIM (dkim = no) nor a rule reads the body: the daemon asked for
-- replies to body chunks (no SMFIP_NR_BODY), so that its first answer can
-- tell the MTA to skip the rest (SMFIS_SKIP).
dofile(lib)
local conn = session("198.51.100.7")
if mt.test_option(conn, SMFIP_NR_BODY_) then fail("NR_BODY negotiated") end
if not mt.test_option(conn, SMFIP_SKIP) then fail("SKIP not negotiated") end
start_mail(conn, "<someone@sender.example>", "NB01")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "someone@sender.example", "Subject", "hello" })
ok(mt.bodystring(conn, "text\r\n"), "body")
expect(conn, SMFIR_SKIP, "body nothing reads")
body_eom(conn, nil, SMFIR_CONTINUE)
log_line("id=NB01", "action=accept stage=eom")
mt.disconnect(conn)
