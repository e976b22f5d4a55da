-- wrk script: POST the body in $CLARM_BODY_FILE to /api/track on every request.
local f = assert(io.open(os.getenv("CLARM_BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.path = "/api/track"
wrk.headers["Content-Type"] = "text/plain"
