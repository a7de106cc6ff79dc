-- An internal error (injected) in a body chunk, which the MTA wants no
-- reply to (SMFIP_NR_BODY): logged at once, answered at the end of the
-- message with 451 4.3.0 (on_internal_error = tempfail); the chunks after
-- it are not read; never a silent accept.
dofile(lib)
local conn = session("198.51.100.7")
if not mt.test_option(conn, SMFIP_NR_BODY_) then fail("NR_BODY not negotiated") end
start_mail(conn, "<alice@sender.example>", "IB01")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example", "Subject", "hello" })
ok(mt.bodystring(conn, "one\r\n"), "body")
ok(mt.bodystring(conn, "two\r\n"), "body")
body_eom(conn, nil, SMFIR_REPLYCODE)
log_line("error: id=IB01 internal error (out of memory) in body; on_internal_error answers at the next command")
if count_log_lines("id=IB01 internal error") ~= 1 then fail("the error was not logged once") end
mt.disconnect(conn)
