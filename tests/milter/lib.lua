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

-- DATA, when the daemon wants it: it asks for no DATA event (SMFIP_NODATA)
-- when its rules cannot refuse there, and miltertest then refuses to send one.
function data(conn)
	local sent, err = pcall(mt.data, conn)
	if not sent and not tostring(err):find("negotiated SMFIP_NODATA", 1, true) then
		fail("data: " .. tostring(err))
	end
	if sent and err ~= nil then fail("data: " .. tostring(err)) end
	return sent
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

-- Waits for a log line with every given string that was not in the log
-- when `since` (a count from count_log_lines) was taken.
function count_log_lines(...)
	local wanted, n = { ... }, 0
	for line in read_log():gmatch("[^\n]+") do
		local all = true
		for _, w in ipairs(wanted) do
			if not line:find(w, 1, true) then all = false break end
		end
		if all then n = n + 1 end
	end
	return n
end

function new_log_line(since, what)
	for _ = 1, 100 do
		if count_log_lines(what) > since then return end
		mt.sleep(0.05)
	end
	fail("no new log line with: " .. what)
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

-- Sends a message file's header fields (the value as in the file: its
-- leading whitespace and folds kept, folds as LF, as Postfix sends them
-- with HDR_LEADSPC), end of header and its body (CRLF), without eom.
function send_file(conn, path)
	local f = io.open(path, "rb")
	if f == nil then fail("cannot read " .. path) end
	local text = f:read("*a"):gsub("\r\n", "\n")
	f:close()
	local head, body = text:match("^(.-)\n\n(.*)$")
	if head == nil then fail(path .. ": no empty line after the header") end
	local fields = {}
	for line in (head .. "\n"):gmatch("(.-)\n") do
		if line:match("^[ \t]") and #fields > 0 then
			fields[#fields] = fields[#fields] .. "\n" .. line
		else
			fields[#fields + 1] = line
		end
	end
	for _, field in ipairs(fields) do
		local name, value = field:match("^([^:]+):(.*)$")
		ok(mt.header(conn, name, value), "header " .. name)
	end
	ok(mt.eoh(conn), "eoh")
	expect(conn, SMFIR_CONTINUE, "end of header")
	ok(mt.bodystring(conn, (body:gsub("\n", "\r\n"))), "body")
end

-- The first 8 characters of b= of a message file's first DKIM-Signature.
function dkim_b8(path)
	local f = io.open(path, "rb")
	local text = f:read("*a"):gsub("\r\n", "\n")
	f:close()
	local sig = text:match("^DKIM%-Signature:(.-)\n[^ \t]")
	if sig == nil then fail(path .. ": no DKIM-Signature first") end
	sig = sig:gsub("[ \t\n]", "")
	return sig:match(";b=([^;]*)"):sub(1, 8)
end

-- Parses an Authentication-Results value with python3-authres (RFC 8601)
-- and returns "method=result d=... s=..." lines, or fails.
function authres_parse(value)
	local tmpname = os.tmpname()
	local f = io.open(tmpname, "wb")
	f:write(value)
	f:close()
	local p = io.popen("/usr/bin/python3 -c '" ..
		"import authres, sys\n" ..
		"h = authres.AuthenticationResultsHeader.parse(\"Authentication-Results: \" + open(sys.argv[1]).read())\n" ..
		"for r in h.results:\n" ..
		"    props = {(p.type, p.name): p.value for p in r.properties}\n" ..
		"    print(r.method + \"=\" + r.result, props.get((\"header\", \"d\"), \"\"), props.get((\"header\", \"s\"), \"\"))\n" ..
		"' " .. tmpname .. " 2>&1")
	local out = p:read("*a")
	p:close()
	os.remove(tmpname)
	return out
end
