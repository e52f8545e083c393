-- One batch of enqueues from the web side (src/fastpath/enqueue_batcher.py), atomic as a MULTI/EXEC, and
-- refused whole when it runs past its deadline: a batch its server has given up on (and told its clients
-- failed) is never written by a Redis that wakes up late.
-- KEYS: the queue, then each job's record key.
-- ARGV: the deadline (ms on this Redis's clock; 0: none), the records' time to live (ms), the jobs' score
-- (their enqueue time, ms), the wake-up channel, then each job's id and record (ARQ's serialised job).
-- Returns {the queue's length after the batch, now (ms)}, or {-1, now} when past the deadline.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local deadline = tonumber(ARGV[1])
if deadline > 0 and now > deadline then
  return {-1, now}
end
for i = 2, #KEYS do
  local job = 5 + (i - 2) * 2
  redis.call('PSETEX', KEYS[i], ARGV[2], ARGV[job + 1])
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[job])
end
redis.call('PUBLISH', ARGV[4], '')
return {redis.call('ZCARD', KEYS[1]), now}
