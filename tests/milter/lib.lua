-- Helpers for the milter-policy miltertest suite. Globals from the runner
-- (miltertest -D): socket, log (the daemon's log file), bin, conf, rules.

-- miltertest does not print Lua errors: say it first
function fail(msg)
	mt.echo("FAIL: " .. msg)
	error(msg, 2)
end

-- A negotiated, connected session from ip (name: PTR name).
function session(ip, name)
	local conn = mt.connect(socket, 40, 0.05)
	if conn == nil then fail("mt.connect failed") end
	mt.macro(conn, SMFIC_CONNECT, "{client_addr}", ip)
	if mt.conninfo(conn, name or "mail.sender.example", ip) ~= nil then fail("conninfo") end
	return conn
end

function expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		fail(what .. ": reply " .. string.char(math.floor(got)) .. ", wanted " .. string.char(math.floor(want)))
	end
end

function ok(rc, what)
	if rc ~= nil then fail(what .. ": " .. tostring(rc)) end
end

-- helo + MAIL FROM with a queue id macro, checking the reply.
function start_mail(conn, from, qid, want, helo)
	ok(mt.helo(conn, helo or "mail.sender.example"), "helo")
	mt.macro(conn, SMFIC_MAIL, "i", qid)
	ok(mt.mailfrom(conn, from), "mailfrom")
	expect(conn, want or SMFIR_CONTINUE, "MAIL FROM " .. from)
end

function rcpt(conn, to, want)
	ok(mt.rcptto(conn, to), "rcptto")
	expect(conn, want or SMFIR_CONTINUE, "RCPT TO " .. to)
end

-- Sends headers {name, value, ...} and end of header.
function headers(conn, list, want)
	for i = 1, #list, 2 do
		ok(mt.header(conn, list[i], list[i + 1]), "header " .. list[i])
	end
	ok(mt.eoh(conn), "eoh")
	expect(conn, want or SMFIR_CONTINUE, "end of header")
end

function body_eom(conn, body, want)
	if body ~= nil then
		ok(mt.bodystring(conn, body), "body")
	end
	ok(mt.eom(conn), "eom")
	local got = mt.getreply(conn)
	if want ~= nil and got ~= want then
		fail("end of message: reply " .. string.char(math.floor(got)))
	end
end

local function read_log()
	local f = io.open(log, "r")
	if f == nil then return "" end
	local s = f:read("a")
	f:close()
	return s
end

-- Waits (up to 3 s) for a log line containing every one of the plain
-- substrings; returns it.
function log_line(...)
	local wanted = { ... }
	for _ = 1, 60 do
		for line in read_log():gmatch("[^\n]+") do
			local all = true
			for _, w in ipairs(wanted) do
				if not line:find(w, 1, true) then all = false break end
			end
			if all then return line end
		end
		mt.sleep(0.05)
	end
	fail("no log line with: " .. table.concat(wanted, " | "))
end

function no_log_line(...)
	local wanted = { ... }
	for line in read_log():gmatch("[^\n]+") do
		local all = true
		for _, w in ipairs(wanted) do
			if not line:find(w, 1, true) then all = false break end
		end
		if all then fail("unexpected log line: " .. line) end
	end
end

function sh(cmd)
	local okc = os.execute(cmd)
	if not okc then fail("command failed: " .. cmd) end
end
