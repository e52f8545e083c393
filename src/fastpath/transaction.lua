-- A transaction of ARQ's worker run as one script (src/fastpath/pipelines.py): atomic as MULTI/EXEC is, and
-- answered with one reply instead of one per command plus two.
-- KEYS: every command's keys, in order. ARGV: per command, its name, how many keys it takes from KEYS and how many
-- further arguments follow, then those arguments.
-- Runs each command in order with redis.pcall, so that, as in EXEC, an error is that command's reply and the
-- commands after it still run. Returns the replies, in order.
local replies = {}
local key, at = 1, 1
while at <= #ARGV do
  local call = {ARGV[at]}
  local key_count, argument_count = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  at = at + 3
  for _ = 1, key_count do
    call[#call + 1] = KEYS[key]
    key = key + 1
  end
  for i = 0, argument_count - 1 do
    call[#call + 1] = ARGV[at + i]
  end
  at = at + argument_count
  replies[#replies + 1] = redis.pcall(unpack(call))
end
return replies
