-- A reload while a message is in flight: that message finishes under the
-- rules it started with, the next one runs under the new rules.
dofile(lib)
local conn = session("198.51.100.7")
start_mail(conn, "<x@reload.example>", "T21a")
rcpt(conn, "<bob@example.com>")
sh("sed -i 's/\"X-Reload\" \"v1\"/\"X-Reload\" \"v2\"/' " .. rules .. "/global.rules")
-- `reload` waits for the daemon's verdict
local out = io.popen(bin .. " -c " .. conf .. " reload 2>&1; echo rc=$?"):read("*a")
if not out:find("reloaded", 1, true) or not out:find("rc=0", 1, true) then fail("reload: " .. out) end
log_line("reload (signal) done")
headers(conn, { "From", "x@reload.example" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRADD, "X-Reload", " v1") then fail("in-flight message did not keep the old rules") end
mt.macro(conn, SMFIC_MAIL, "i", "T21b")
ok(mt.mailfrom(conn, "<x@reload.example>"), "mailfrom")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "x@reload.example" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRADD, "X-Reload", " v2") then fail("the next message did not get the new rules") end
mt.disconnect(conn)
