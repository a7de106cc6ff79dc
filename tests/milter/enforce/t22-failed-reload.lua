-- A failed reload keeps the rules in force and logs every error with
-- FILE:LINE:COL; fixing the file reloads by itself (reload_check_interval).
dofile(lib)
local f = io.open(rules .. "/global.rules", "a")
f:write('rule "broken" {\n    when nosuch.field == "x"\n    accept\n}\n')
f:close()
-- `reload` checks the candidate itself: errors with FILE:LINE:COL, exit 1,
-- and the daemon is not signalled
local out = io.popen(bin .. " -c " .. conf .. " reload 2>&1; echo rc=$?"):read("*a")
if not out:find("global.rules:106:10: unknown field 'nosuch.field'", 1, true) or
   not out:find("not signalled", 1, true) or not out:find("rc=1", 1, true) then
	fail("reload of broken rules: " .. out)
end
-- the daemon itself, signalled anyway (or finding the change), keeps the rules
local pidfile = conf:gsub("%.conf$", ".pid")
sh("kill -USR1 $(cat " .. pidfile .. ")")
log_line("reload (signal) failed with 1 error ")
log_line("global.rules:", ":10: unknown field 'nosuch.field'")
local conn = session("198.51.100.7")
start_mail(conn, "<x@reload.example>", "T22")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "x@reload.example" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRADD, "X-Reload", " v2") then fail("old rules not kept after a failed reload") end
-- the broken file is not reported again while it stays as it is
mt.sleep(1)
local n = 0
for line in io.lines(log) do
	if line:find("unknown field 'nosuch.field'", 1, true) then n = n + 1 end
end
if n ~= 1 then fail("the same error was reported " .. n .. " times") end
-- fix it: the change is picked up without a signal (an earlier test
-- reloaded on a change too: wait for a new line)
local before = count_log_lines("reload (files changed) done")
sh("sed -i '/rule \"broken\"/,$d' " .. rules .. "/global.rules")
sh("sed -i 's/\"X-Reload\" \"v2\"/\"X-Reload\" \"v3\"/' " .. rules .. "/global.rules")
new_log_line(before, "reload (files changed) done")
conn = session("198.51.100.7")
start_mail(conn, "<x@reload.example>", "T22b")
rcpt(conn, "<bob@example.com>")
headers(conn, { "From", "x@reload.example" })
body_eom(conn, "x\r\n", SMFIR_CONTINUE)
if not mt.eom_check(conn, MT_HDRADD, "X-Reload", " v3") then fail("automatic reload did not take effect") end
mt.disconnect(conn)
