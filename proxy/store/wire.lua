-- Prepended to admit.lua and settle.lua when they are loaded (proxy/store/redis.py _Script):
-- their ~20-40 arguments come packed in a few strings, which cost the proxy less to build and
-- send than one argument each. Unpacked here into the layout each script documents, which the
-- rest of it reads (a local ARGV shadows Redis' own; WIRE keeps the strings as sent):
--   ARGV[1] the lease id, which becomes argument 3
--   ARGV[2] arguments 1, 2 and 4 on, separated by spaces, '-' for ''
--   ARGV[3] optional: the arguments after those, separated by spaces
-- and what a script takes beyond that (ARGV[4] on) it reads from WIRE.

local WIRE = ARGV
local ARGV = (function(wire)
  local args = {}
  for x in string.gmatch(wire[2], '%S+') do
    args[#args + 1] = (x == '-') and '' or x
  end
  table.insert(args, 3, wire[1])
  if wire[3] then
    for x in string.gmatch(wire[3], '%S+') do
      args[#args + 1] = x
    end
  end
  return args
end)(WIRE)
