-- An internal error (injected at RCPT) with on_internal_error = tempfail:
-- 451 4.3.0, logged at error level; never a silent accept.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "IE01")
rcpt(conn, "<bob@example.com>", SMFIR_REPLYCODE)
log_line("error: id=IE01 internal error (out of memory) in rcpt; tempfail")
mt.disconnect(conn)
