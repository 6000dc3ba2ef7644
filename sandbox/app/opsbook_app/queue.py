"""A reliable job queue on Redis: a job taken is never lost.

    api:    LPUSH opsbook:jobs ID
    worker: BLMOVE opsbook:jobs -> opsbook:jobs:processing, lease in opsbook:jobs:leases
            ... runs the job, records it in PostgreSQL ...
            ack: LREM processing, ZREM lease (atomically)
    reaper: a lease past its deadline (the worker died, was killed, lost its database)
            puts the job back at the head of the queue; after MAX_ATTEMPTS takes it is
            recorded failed with its last error instead of being tried again (an
            outage, PostgreSQL or Redis away, does not count as an attempt)

A plain BRPOP loses the job in hand when the worker dies between the pop and the record
(a deploy's SIGTERM, an OOM kill, a schema the release cannot write): the job stays
`running` forever while the API keeps answering 202. Here it stays in the processing list
until acknowledged. Delivery is at least once; the jobs are idempotent records.
"""

from __future__ import annotations

import time

import redis

from opsbook_app import config

PROCESSING_KEY = f"{config.QUEUE_KEY}:processing"
LEASES_KEY = f"{config.QUEUE_KEY}:leases"  # sorted set: job id -> lease deadline (epoch s)
ATTEMPTS_KEY = f"{config.QUEUE_KEY}:attempts"  # hash: job id -> failed attempts
ERRORS_KEY = f"{config.QUEUE_KEY}:errors"  # hash: job id -> the last error it failed with
VISIBILITY_TIMEOUT = 60  # seconds; longer than any job may run (sleep jobs cap at 30 s)
MAX_ATTEMPTS = 3

# Each script touches the processing list, the lease and the queue as one step, so two
# workers' reapers can never both re-queue a job, and an ack never races a re-queue.
_ACK = """
local n = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return n
"""
_REQUEUE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('RPUSH', KEYS[3], ARGV[1])
  return 1
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
"""


class Queue:
    def __init__(self, client: redis.Redis) -> None:
        self.r = client
        self._ack = client.register_script(_ACK)
        self._requeue = client.register_script(_REQUEUE)

    def take(self, timeout: float) -> tuple[str, int] | None:
        """The next job id, moved to the processing list under a lease, with how many
        times running it broke a worker (outages not counted); None when none came."""
        job_id = self.r.blmove(config.QUEUE_KEY, PROCESSING_KEY, timeout, "RIGHT", "LEFT")
        if job_id is None:
            return None
        pipe = self.r.pipeline()  # the lease and the attempts in one round trip
        pipe.zadd(LEASES_KEY, {job_id: time.time() + VISIBILITY_TIMEOUT})
        pipe.hget(ATTEMPTS_KEY, job_id)
        return job_id, int(pipe.execute()[1] or 0)

    def ack(self, job_id: str) -> None:
        """Done with it (completed or failed for good): forget it."""
        self._ack(keys=[PROCESSING_KEY, LEASES_KEY, ATTEMPTS_KEY, ERRORS_KEY], args=[job_id])

    def give_back(self, job_id: str, error: str | None = None) -> bool:
        """Put a job taken but not finished back at the head of the queue. With `error`
        (running it broke the worker; an outage is not the job's fault) the attempt
        counts towards MAX_ATTEMPTS."""
        if error:
            pipe = self.r.pipeline()
            pipe.hset(ERRORS_KEY, job_id, error)
            pipe.hincrby(ATTEMPTS_KEY, job_id, 1)
            pipe.execute()
        keys = [PROCESSING_KEY, LEASES_KEY, config.QUEUE_KEY]
        return bool(self._requeue(keys=keys, args=[job_id]))

    def last_error(self, job_id: str) -> str | None:
        return self.r.hget(ERRORS_KEY, job_id)

    def reap(self) -> int:
        """Re-queue every job whose lease ran out; lease any job taken without one (its
        worker died between the move and the lease). Returns how many were re-queued."""
        now = time.time()
        expired = self.r.zrangebyscore(LEASES_KEY, "-inf", now)
        requeued = sum(self.give_back(job_id) for job_id in expired)
        for job_id in self.r.lrange(PROCESSING_KEY, 0, -1):
            self.r.zadd(LEASES_KEY, {job_id: now + VISIBILITY_TIMEOUT}, nx=True)
        return requeued

    def depth(self) -> tuple[int, int]:
        """(waiting, taken and not yet acknowledged)."""
        pipe = self.r.pipeline()
        pipe.llen(config.QUEUE_KEY)
        pipe.llen(PROCESSING_KEY)
        waiting, taken = pipe.execute()
        return int(waiting), int(taken)
