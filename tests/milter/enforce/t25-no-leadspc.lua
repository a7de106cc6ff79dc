-- An MTA that does not offer SMFIP_HDR_LEADSPC (it eats one space after
-- each header colon and adds one to the values a milter sends): the rules
-- see the same values, and the changes go out without a leading space.
dofile(lib)
local conn = mt.connect(socket, 40, 0.05)
if conn == nil then fail("mt.connect failed") end
-- every protocol option libmilter knows (SMFI_CURR_PROT) but HDR_LEADSPC;
-- miltertest's order is (conn, version, protocol options, actions)
ok(mt.negotiate(conn, nil, 0x000FFFFF, nil), "negotiate")
if mt.test_option(conn, 0x00100000) then fail("HDR_LEADSPC still negotiated") end
mt.macro(conn, SMFIC_CONNECT, "{client_addr}", "198.51.100.7")
ok(mt.conninfo(conn, "mail.sender.example", "198.51.100.7"), "conninfo")
start_mail(conn, "<alice@sender.example>", "T25")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "alice@sender.example", "Subject", "Offer of the week" })
body_eom(conn, "buy\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[SPAM] Offer of the week") then fail("Subject not tagged") end
if not mt.eom_check(conn, MT_HDRADD, "X-Spam", "yes") then fail("no X-Spam") end
if mt.eom_check(conn, MT_HDRADD, "X-Spam", " yes") then fail("value sent with a leading space") end
log_line("id=T25", "rules=com-header,tag action=accept stage=eom rule=- score=3")
mt.disconnect(conn)
