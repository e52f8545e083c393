-- The enqueues of one batch (src/fastpath/enqueue_batcher.py), atomic, in one round trip.
-- KEYS: the queue, the job key prefix.
-- ARGV: the most jobs the queue may hold, the jobs' score (now, ms), their records' time to live (ms),
-- the wake-up channel, then for each job its id and its record (serialized as ARQ serializes it).
-- Each job is written as ARQ's enqueue_job writes it (its record with PSETEX, its id on the queue
-- with ZADD) while the queue holds fewer than the most it may (ZCARD: waiting and running jobs).
-- Returns, per job, 1 if it was queued, 0 if the queue was full; publishes one wake-up if any was.
local room = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local queued = {}
local any = false
for i = 5, #ARGV, 2 do
  if room > 0 then
    redis.call('PSETEX', KEYS[2] .. ARGV[i], ARGV[3], ARGV[i + 1])
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
    room = room - 1
    any = true
    table.insert(queued, 1)
  else
    table.insert(queued, 0)
  end
end
if any then
  redis.call('PUBLISH', ARGV[4], '')
end
return queued
