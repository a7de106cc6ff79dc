-- Bank mail signed by bank.example (python3-dkim): DKIM passes through the
-- daemon, the bank rule leaves it alone, and the Authentication-Results
-- field the daemon inserts parses with python3-authres.
dofile(lib)
local msg = fixtures .. "/bank-aligned.eml"
local conn = session("198.51.100.7")
start_mail(conn, "<alerts@bank.example>", "T26")
rcpt(conn, "<bob@example.com>")
data(conn)
send_file(conn, msg)
ok(mt.eom(conn), "eom")
expect(conn, SMFIR_CONTINUE, "end of message")
if mt.eom_check(conn, MT_HDRCHANGE) then fail("a header was changed") end
local ar = "mx.test.example;\n\tspf=pass smtp.mailfrom=alerts@bank.example;\n\t" ..
	"dkim=pass header.d=bank.example header.s=s2048 header.b=" .. dkim_b8(msg) .. ";\n\t" ..
	"dmarc=pass (p=reject dis=none) header.from=bank.example"
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results", " " .. ar, 0) then
	fail("no Authentication-Results with dkim=pass at the top")
end
local parsed = authres_parse(ar)
if parsed ~= "spf=pass  \ndkim=pass bank.example s2048\ndmarc=pass  \n" then fail("python3-authres: " .. parsed) end
log_line("id=T26", "spf=pass dkim=pass dmarc=pass rules=com-header action=accept")
mt.disconnect(conn)
