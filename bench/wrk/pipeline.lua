-- 16-deep HTTP/1.1 pipelining for wrk.
--
-- `init` builds one buffer holding 16 `GET /` requests and `request()` hands
-- that buffer to wrk for every write. wrk parses the returned buffer, sees 16
-- requests, and waits for 16 responses before writing again; it counts every
-- response, so `Requests/sec` is pipelined responses per second.

local depth = 16
local batch

function init(args)
   local reqs = {}
   for i = 1, depth do
      reqs[i] = wrk.format("GET", "/")
   end
   batch = table.concat(reqs)
end

function request()
   return batch
end
