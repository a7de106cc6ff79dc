-- Refused at the end of the header (no body is read).
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<alice@sender.example>", "T14")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example", "Content-Type", "application/octet-stream;\n\tname=\"invoice.exe\"" }, SMFIR_REPLYCODE)
log_line("id=T14", "rules=com-header,exe action=reject stage=header", 'reply="550 5.7.1 No executables"')
mt.disconnect(conn)
