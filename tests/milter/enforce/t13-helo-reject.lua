-- Refused at HELO with the rule's reply.
dofile(lib)
local conn = session("198.51.100.8")
ok(mt.helo(conn, "bad.helo.example"), "helo")
expect(conn, SMFIR_REPLYCODE, "HELO")
log_line("client=198.51.100.8 helo=bad.helo.example action=reject stage=helo rule=bad-helo " ..
	"reply=\"550 5.7.1 Bad HELO bad.helo.example\"")
mt.disconnect(conn)
