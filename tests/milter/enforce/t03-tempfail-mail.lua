-- A 4xx decision at MAIL FROM is a tempfail with the rule's reply.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<x@slow.example>", "T03", SMFIR_REPLYCODE)
log_line("id=T03", "action=tempfail stage=mail", 'reply="451 4.7.1 Come back later"')
mt.disconnect(conn)
