-- wrk script: each thread (one connection each) walks its own refresh-token chain: every
-- response carries the successor token, which the next request presents. A failed rotation
-- breaks that chain and every later request of the thread shows up as a non-2xx response.
local threads = {}
local tokens = {}
for token in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS"), "[^,]+") do tokens[#tokens + 1] = token end

function setup(thread)
    thread:set("token", tokens[#threads + 1])
    table.insert(threads, thread)
end

function request()
    return wrk.format("POST", "/oauth2/token", { ["Content-Type"] = "application/x-www-form-urlencoded" },
        "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
    local successor = string.match(body, '"refresh_token":"([^"]+)"')
    if successor then token = successor end
end
