-- A sender rule rejects at MAIL FROM with the rule's code and text.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<spam@blocked.example>", "T02", SMFIR_REPLYCODE)
log_line("id=T02", "from=<spam@blocked.example>", "rules=sender-blocked action=reject stage=mail", 'reply="550 5.7.1 Sender spam@blocked.example refused"')
mt.disconnect(conn)
