"""Job inputs and results in S3 via aioboto3: uploads with content types, SigV4 presigned GETs.

`upload_fileobj` switches to multipart upload for large bodies by itself, so
long results are sent in parts without being copied again.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import IO, Any

import aioboto3
from botocore.config import Config

from ..settings import Settings

__all__ = ["ObjectStore"]

_MULTIPART_THRESHOLD = 8 * 1024 * 1024


class ObjectStore:
    def __init__(self, client: Any, bucket: str, prefix: str, presign_expiry: int):
        self._client = client
        self.bucket = bucket
        self.prefix = prefix
        self.presign_expiry = presign_expiry

    @classmethod
    async def open(cls, settings: Settings, stack: AsyncExitStack) -> ObjectStore:
        session = aioboto3.Session(
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            region_name=settings.aws_region,
        )
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3})
        client = await stack.enter_async_context(
            session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config))
        return cls(client, settings.s3_bucket or "", settings.s3_prefix, settings.presign_expiry_seconds)

    def key(self, *parts: str) -> str:
        return self.prefix + "/".join(parts)

    def owns(self, bucket: str) -> bool:
        return bucket == self.bucket

    async def put(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        from boto3.s3.transfer import TransferConfig

        fileobj.seek(0)
        await self._client.upload_fileobj(
            fileobj, self.bucket, key, ExtraArgs={"ContentType": content_type},
            Config=TransferConfig(multipart_threshold=_MULTIPART_THRESHOLD, multipart_chunksize=_MULTIPART_THRESHOLD),
        )

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """A small object (a job's piece) in one request."""
        await self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def get_bytes(self, key: str) -> bytes:
        response = await self._client.get_object(Bucket=self.bucket, Key=key)
        body = response["Body"]
        try:
            return bytes(await body.read())
        finally:
            body.close()

    async def download(self, key: str, into: IO[bytes], *, bucket: str | None = None, max_bytes: int) -> int:
        """Stream an object into `into`, refusing more than `max_bytes`."""
        response = await self._client.get_object(Bucket=bucket or self.bucket, Key=key)
        total = 0
        body = response["Body"]  # aiobotocore StreamingBody: read(amt) streams
        try:
            while chunk := await body.read(64 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    raise ValueError(f"object is larger than {max_bytes} bytes")
                into.write(chunk)
        finally:
            body.close()
        into.seek(0)
        return total

    async def presigned_get(self, key: str) -> tuple[str, int]:
        """A fresh SigV4 GET URL and its expiry (unix seconds); minted on every read."""
        url = await self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.presign_expiry)
        return url, int(time.time()) + self.presign_expiry

    async def ready(self) -> bool:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
            return True
        except Exception:  # any failure means "not ready"; readyz shows it, it never raises
            return False
