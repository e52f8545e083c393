-- One poll of the batch-claiming worker (src/fastpath/batch_claim_worker.py), atomic as ARQ's
-- WATCH/MULTI claim is, so two workers never claim one job.
-- KEYS: the queue, the in-progress key prefix, the abort set, the job key prefix, the retry key prefix.
-- ARGV: now (ms), the lock's ms, the offset and number of queue entries to look at, how many jobs to
-- claim at most, 1 to also start the claimed jobs (else 0), the retry counter's seconds.
-- Claims due jobs in score order, setting each one's in-progress lock as ARQ's claim does, unless
-- locked already. Starting a job is what ARQ's run_job first does, in one transaction: read its
-- record, count the try, and take its abort request.
-- Returns, per claimed job, its id and score (and when starting: its record, its try and whether its
-- abort was requested), then the ids whose abort is requested.
local claimed = {}
local wanted = tonumber(ARGV[5])
if wanted > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', ARGV[3], ARGV[4])
  local count = 0
  for i = 1, #due, 2 do
    local job_id = due[i]
    local lock = KEYS[2] .. job_id
    if redis.call('EXISTS', lock) == 0 then
      redis.call('PSETEX', lock, ARGV[2], '1')
      table.insert(claimed, job_id)
      table.insert(claimed, due[i + 1])
      if ARGV[6] == '1' then
        local retry = KEYS[5] .. job_id
        table.insert(claimed, redis.call('GET', KEYS[4] .. job_id))
        table.insert(claimed, redis.call('INCR', retry))
        redis.call('EXPIRE', retry, ARGV[7])
        table.insert(claimed, redis.call('ZREM', KEYS[3], job_id))
      end
      count = count + 1
      if count >= wanted then
        break
      end
    end
  end
end
return {claimed, redis.call('ZRANGE', KEYS[3], 0, -1)}
