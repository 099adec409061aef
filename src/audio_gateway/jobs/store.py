"""Job records in Redis: one JSON value per job, a per-owner index, idempotency keys.

Writes that race (a worker finishing while a client cancels) go through a
WATCH/MULTI transaction so a final status is never overwritten.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
from redis.asyncio import Redis
from redis.exceptions import WatchError

from .model import FINAL_STATUSES, JobRecord

__all__ = ["JobStore", "UnknownCursor"]

_decoder = msgspec.json.Decoder(JobRecord)


def decode_record(raw: bytes) -> JobRecord:
    """A stored job record. Records written before requests were typed (a plain dict of fields, the
    transcription's with a `filename`) are read into today's tagged union, so jobs in flight across an
    upgrade are not lost."""
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError:
        data = msgspec.json.decode(raw)
        request = data.get("request") if isinstance(data, dict) else None
        if not isinstance(request, dict) or "type" in request:
            raise
        if data.get("kind") == "tts":
            data["request"] = {"type": "speech", "speech": request}
        else:
            form = {k: v for k, v in request.items() if k != "filename"}
            data["request"] = {"type": "transcription", "form": form, "filename": request.get("filename") or "audio"}
        return msgspec.convert(data, JobRecord)

CLAIM_SECONDS = 600  # longer than any submission (a 25 MB upload to S3) takes

# Delete KEYS[1] only while it still holds ARGV[1]: a claim is given back by the request that made it, no other.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class UnknownCursor(LookupError):
    """`list(after=...)` named a job that is not in the owner's index."""


class JobStore:
    def __init__(self, redis: Redis, *, retention_seconds: int, prefix: str = "ag"):
        self.redis = redis
        self.retention = retention_seconds
        self.prefix = prefix

    def _job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def _index(self, owner: str) -> str:
        return f"{self.prefix}:jobs:{owner}"

    def _idem(self, owner: str, key: str) -> str:
        return f"{self.prefix}:idem:{owner}:{key}"

    async def create(self, record: JobRecord) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._job(record.id), msgspec.json.encode(record), ex=self.retention)
            pipe.zadd(self._index(record.owner), {record.id: time.time_ns() // 1_000_000})  # ms: stable newest-first
            pipe.expire(self._index(record.owner), self.retention)
            await pipe.execute()

    async def discard(self, record: JobRecord) -> None:
        """Undo `create` for a job that never reached the queue."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._job(record.id))
            pipe.zrem(self._index(record.owner), record.id)
            await pipe.execute()

    async def get(self, job_id: str) -> JobRecord | None:
        raw = await self.redis.get(self._job(job_id))
        return decode_record(raw) if raw else None

    async def update(self, job_id: str, change: Callable[[JobRecord], JobRecord | None], *,
                     allow_final: bool = False) -> JobRecord | None:
        """Apply `change` atomically; it may return None to leave the record as is. Final records never change,
        except through `allow_final` (a cancelled job's worker settling what the job cost)."""
        key = self._job(job_id)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if not raw:
                        return None
                    current = decode_record(raw)
                    if current.status in FINAL_STATUSES and not allow_final:
                        return current
                    updated = change(current)
                    if updated is None:
                        return current
                    pipe.multi()
                    pipe.set(key, msgspec.json.encode(updated), ex=self.retention)
                    await pipe.execute()
                    return updated
                except WatchError:
                    continue

    async def list(self, owner: str, *, limit: int, after: str | None = None) -> tuple[list[JobRecord], bool]:
        """Newest first; `after` is the id of the last job of the previous page. Returns (records, has_more).

        An `after` that is none of the owner's jobs raises UnknownCursor: quietly starting over from the
        first page would hand a paginating client the same jobs again, forever."""
        start = 0
        if after is not None:
            rank = await self.redis.zrevrank(self._index(owner), after)
            if rank is None:
                raise UnknownCursor(after)
            start = rank + 1
        ids = await self.redis.zrevrange(self._index(owner), start, start + limit)
        records = []
        for job_id in ids[:limit]:
            record = await self.get(job_id.decode() if isinstance(job_id, bytes) else job_id)
            if record is not None:
                records.append(record)
        return records, len(ids) > limit

    async def adopt_index(self, old_owner: str, owner: str) -> None:
        """Move the jobs listed under `old_owner` into `owner`'s index (one transaction, idempotent).

        For a key whose owner id changed: its older jobs keep their records (and `owner`) as they are, and
        are listed with its new ones. Only an index that exists is touched, so the usual cost is one EXISTS."""
        old, new = self._index(old_owner), self._index(owner)
        if not await self.redis.exists(old):
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zunionstore(new, [new, old], aggregate="MAX")
            pipe.delete(old)
            pipe.expire(new, self.retention)
            await pipe.execute()

    async def idempotency_job(self, owner: str, key: str) -> str | None:
        """The job an Idempotency-Key is bound to for `owner`, if any (read only)."""
        existing = await self.redis.get(self._idem(owner, key))
        return existing.decode() if isinstance(existing, bytes) else existing

    async def claim_idempotency_key(self, owner: str, key: str, job_id: str) -> str | None:
        """Bind `key` to `job_id` unless already bound; returns the job id it was bound to before.

        The claim holds for CLAIM_SECONDS until `keep_idempotency_key` confirms it: a submission that died
        without giving its claim back (Redis gone at that moment) cannot block the key for the whole retention."""
        if await self.redis.set(self._idem(owner, key), job_id, nx=True, ex=CLAIM_SECONDS):
            return None
        existing = await self.redis.get(self._idem(owner, key))
        return existing.decode() if isinstance(existing, bytes) else existing

    async def keep_idempotency_key(self, owner: str, key: str) -> None:
        """The job exists: the key now answers with it for as long as the job is kept."""
        await self.redis.expire(self._idem(owner, key), self.retention)

    async def release_idempotency_key(self, owner: str, key: str, job_id: str) -> None:
        """Give back a claim whose submission failed, so that a retry with the same key can succeed."""
        await self.redis.eval(_RELEASE, 1, self._idem(owner, key), job_id)  # type: ignore[misc]  # redis-py's union
