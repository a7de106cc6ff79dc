-- discard at MAIL FROM.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<x@discard.example>", "T08", SMFIR_DISCARD)
log_line("id=T08", "rules=sender-discard action=discard stage=mail")
mt.disconnect(conn)
