-- A message accepted at MAIL FROM starts no check, yet its forged
-- Authentication-Results still go; with no result computed, ours is left out.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<pal@friend.example>", "T24")
rcpt(conn, "<bob@example.com>")
headers(conn, { "Authentication-Results", "mx.test.example; dkim=pass header.d=bank.example", "From", "pal@friend.example" })
ok(mt.bodystring(conn, "x\r\n"), "body")
expect(conn, SMFIR_SKIP, "body after an accept")
body_eom(conn, nil, SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results") then fail("forged field not removed") end
if mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then fail("an empty field was inserted") end
log_line("id=T24", "spf=- dkim=- rules=early-accept action=accept stage=mail")
mt.disconnect(conn)
