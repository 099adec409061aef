"""What a worker does with one job: the same gateway code path as the sync endpoints.

Speech: split at sentence boundaries into provider-sized pieces, synthesise them
with bounded concurrency through `Gateway.speech` (fallback and billing
included), stitch one file, upload. Transcription: read the input from S3 (or
`file_url`), probe, `Gateway.transcribe`, render, upload.
"""

from __future__ import annotations

import asyncio
import collections
import tempfile
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import IO

import anyio.to_thread
import msgspec

from ..billing import decimal_text
from ..audio import UnreadableAudio, probe_audio, render_transcript
from ..catalog import TtsModel
from ..errors import InvalidRequest
from ..gateway import Gateway
from ..speech import SpeechRequest
from ..transcription import Upload, transcription_call_for
from ..transcription.request import TranscriptionRequest, check_duration
from .fetch import fetch_https, parse_s3_url
from .model import JobRecord, JobUsage
from .split import split_text
from .stitch import content_type_for, stitch_audio
from .storage import ObjectStore

__all__ = ["JobOutput", "run_speech", "run_transcription", "TRANSCRIPT_EXTENSIONS"]

Progress = Callable[[float], Awaitable[None]]
TRANSCRIPT_EXTENSIONS = {"json": "json", "verbose_json": "json", "text": "txt", "srt": "srt", "vtt": "vtt"}


class JobOutput(msgspec.Struct, frozen=True):
    body: IO[bytes]
    size: int
    content_type: str
    extension: str
    usage: JobUsage


async def run_speech(gateway: Gateway, record: JobRecord, progress: Progress, concurrency: int) -> JobOutput:
    request = msgspec.convert(record.request, SpeechRequest)
    route = gateway.route(request.model)
    assert isinstance(route.model, TtsModel)
    pieces = split_text(request.input, route.model.capabilities.max_input_chars)
    limit = asyncio.Semaphore(max(1, concurrency))
    done = 0

    async def synthesise(text: str):
        nonlocal done
        async with limit:
            outcome = await gateway.speech(msgspec.structs.replace(request, input=text), route)
            audio = await outcome.stream.read_all()
            charge = outcome.charge()
        done += 1
        await progress(0.95 * done / len(pieces))
        return audio, outcome, charge

    results = await asyncio.gather(*(synthesise(piece) for piece in pieces))
    audio = await anyio.to_thread.run_sync(stitch_audio, [r[0] for r in results], request.response_format)
    served = collections.Counter(r[1].target.model.id for r in results)
    charges = [r[2] for r in results]
    units = {c.primary.unit for c in charges}
    usage = JobUsage(
        cost_usd=decimal_text(sum((c.total_usd for c in charges), Decimal(0))),
        billing_unit=units.pop() if len(units) == 1 else "mixed",
        billing_quantity=decimal_text(sum((c.primary.quantity for c in charges), Decimal(0))),
        model_served=",".join(model for model, _ in served.most_common()),
        attempts=sum(a.reached_provider for r in results for a in r[1].attempts),
    )
    body = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    body.write(audio)
    return JobOutput(body=body, size=len(audio), content_type=content_type_for(request.response_format),
                     extension=request.response_format, usage=usage)


async def _load_input(record: JobRecord, store: ObjectStore, max_bytes: int, allow: tuple[str, ...]) -> IO[bytes]:
    spooled = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    try:
        if record.input_key:
            await store.download(record.input_key, spooled, max_bytes=max_bytes)
        elif record.file_url and record.file_url.startswith("s3://"):
            bucket, key = parse_s3_url(record.file_url)
            try:
                await store.download(key, spooled, bucket=bucket, max_bytes=max_bytes)
            except ValueError as exc:
                raise InvalidRequest(str(exc), param="file_url", code="file_too_large") from None
            except Exception:
                raise InvalidRequest("file_url could not be read from S3.", param="file_url",
                                     code="file_url_unavailable") from None
        elif record.file_url:
            await fetch_https(record.file_url, spooled, max_bytes=max_bytes, allow=allow)
        return spooled
    except BaseException:
        spooled.close()
        raise


async def run_transcription(gateway: Gateway, record: JobRecord, store: ObjectStore, progress: Progress,
                            allow: tuple[str, ...]) -> JobOutput:
    form = msgspec.convert(record.request, TranscriptionRequest)
    route = gateway.route(form.model)
    max_bytes = route.model.capabilities.max_upload_bytes
    source = await _load_input(record, store, max_bytes, allow)
    try:
        size = source.seek(0, 2)
        source.seek(0)
        upload = Upload(fields={}, file=source, filename=record.request.get("filename") or "audio",
                        content_type="application/octet-stream", file_bytes=size)
        try:
            info = await anyio.to_thread.run_sync(probe_audio, source)
        except UnreadableAudio as exc:
            raise InvalidRequest(f"The input is not readable audio ({exc.reason}).", param="file",
                                 code="invalid_file_format") from None
        check_duration(info, route)
        await progress(0.1)
        outcome = await gateway.transcribe(route, lambda t: transcription_call_for(form, t, upload, info), info.duration)
    finally:
        source.close()
    rendered = render_transcript(outcome.transcript, form.response_format,
                                 usage_seconds=outcome.billed_seconds if form.task == "transcribe" else None,
                                 include_words="word" in form.timestamp_granularities)
    usage = JobUsage(cost_usd=decimal_text(outcome.charge.total_usd), billing_unit=outcome.charge.primary.unit,
                     billing_quantity=decimal_text(outcome.charge.primary.quantity), model_served=outcome.target.model.id,
                     attempts=sum(a.reached_provider for a in outcome.attempts))
    body = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    body.write(rendered.body)
    return JobOutput(body=body, size=len(rendered.body), content_type=rendered.content_type,
                     extension=TRANSCRIPT_EXTENSIONS[form.response_format], usage=usage)
