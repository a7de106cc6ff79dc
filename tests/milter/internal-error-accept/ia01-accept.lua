-- An internal error (injected at end of header) with on_internal_error =
-- accept: the message is accepted, and the error logged.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "IA01")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example" }, SMFIR_ACCEPT)
log_line("error: id=IA01 internal error (out of memory) in eoh; accepting (on_internal_error = accept)")
mt.disconnect(conn)
