"""What a worker does with one job: the same gateway code paths as the sync endpoints.

Speech: cut into provider-sized pieces (`pieces.py`), synthesise the ones not yet made with bounded
concurrency through `Gateway.speech` (fallback and billing included), keep each in S3 as it is made,
stitch one file. A stitching failure is final at once (a retry would only pay for the pieces again).
Transcription: read the input from S3 (or `file_url`), then the shared pipeline (`transcription/
pipeline.py`: probe, `Gateway.transcribe`, render).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from typing import IO

import anyio.to_thread
import msgspec

from ..billing import decimal_text
from ..catalog import TtsModel
from ..errors import GatewayError, InvalidRequest
from ..gateway import Gateway, TranscriptionOutcome
from ..transcription import Upload
from ..transcription.pipeline import render_outcome, transcribe_upload
from .fetch import fetch_https, parse_s3_url
from .model import JobRecord, JobUsage, JobUsageLine, PieceRecord, SpeechJob, TranscriptionJob
from .pieces import Piece, cut_pieces, piece_record_lines, usage_of_pieces
from .stitch import StitchError, content_type_for, stitch_audio
from .storage import ObjectStore
from .store import JobStore

__all__ = ["JobOutput", "JobFailed", "run_speech", "run_transcription", "TRANSCRIPT_EXTENSIONS", "speech_usage"]

Progress = Callable[[float], Awaitable[None]]
TRANSCRIPT_EXTENSIONS = {"json": "json", "verbose_json": "json", "diarized_json": "json", "text": "txt", "srt": "srt",
                         "vtt": "vtt"}


class JobFailed(GatewayError):
    """A failure no retry can fix (the pieces cannot be joined): the job ends `failed` at once."""

    status = 500
    type = "job_error"


class JobOutput(msgspec.Struct, frozen=True):
    body: IO[bytes]
    size: int
    content_type: str
    extension: str
    usage: JobUsage


def speech_usage(record: JobRecord) -> JobUsage | None:
    """What a speech job has cost so far (its finished pieces); None before any piece was made."""
    if not record.pieces:
        return None
    return usage_of_pieces(record.pieces, total=record.piece_count or len(record.pieces))


async def run_speech(gateway: Gateway, record: JobRecord, store: JobStore, objects: ObjectStore,
                     progress: Progress, concurrency: int) -> JobOutput:
    assert isinstance(record.request, SpeechJob)
    request = record.request.speech
    route = gateway.route(request.model)
    assert isinstance(route.model, TtsModel)
    pieces = cut_pieces(request.input, route.model.capabilities.max_input_chars)
    # Routed once for the whole job (its text, its id), so every piece tries the same targets in the same
    # order: one voice throughout unless a target fails. Suitability is judged on the longest piece.
    longest = max(pieces, key=lambda piece: len(piece.text))
    decision = gateway.decide_speech(request, route, request_id=record.id,
                                     fits=msgspec.structs.replace(request, input=longest.text))
    if record.piece_count != len(pieces) or record.route != decision.reason:
        record = await store.update(record.id, lambda r: msgspec.structs.replace(
            r, piece_count=len(pieces), route=decision.reason)) or record
    made = {piece.index: piece for piece in record.pieces}
    audio: dict[int, bytes] = {}
    limit = asyncio.Semaphore(max(1, concurrency))

    async def synthesise(piece: Piece) -> None:
        async with limit:
            outcome = await gateway.speech(msgspec.structs.replace(request, input=piece.text), route,
                                           bill_as=piece.billed, decision=decision)
            data = await outcome.stream.read_all()
            charge = outcome.charge()
        key = objects.key(record.owner, record.id, "pieces", f"{piece.index:05d}.{request.response_format}")
        await objects.put_bytes(key, data, content_type_for(request.response_format))
        saved = PieceRecord(index=piece.index, key=key, model_served=outcome.target.model.id,
                            provider=outcome.target.provider.name,
                            attempts=sum(a.reached_provider for a in outcome.attempts),
                            lines=piece_record_lines(charge), cost_usd=decimal_text(charge.total_usd), bytes=len(data))
        # Kept even if the client cancelled meanwhile: the provider made it, so the job owes it.
        await store.update(record.id, lambda r: msgspec.structs.replace(r, pieces=(*r.pieces, saved)), allow_final=True)
        audio[piece.index] = data
        await progress(0.95 * (len(made) + len(audio)) / len(pieces))

    # Pieces in flight when one fails are let finish (and kept): cancelling them would waste what the
    # provider already made, and a retry would pay for them again.
    outcomes = await asyncio.gather(*(synthesise(p) for p in pieces if p.index not in made), return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        raise failures[0]
    for index, piece_record in made.items():
        audio[index] = await objects.get_bytes(piece_record.key)
    try:
        joined = await anyio.to_thread.run_sync(stitch_audio, [audio[p.index] for p in pieces], request.response_format)
    except StitchError as exc:
        raise JobFailed(f"The synthesised pieces could not be joined into one {request.response_format} file ({exc}).",
                        code="stitch_failed") from None
    finished = await store.get(record.id) or record
    body = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    body.write(joined)
    return JobOutput(body=body, size=len(joined), content_type=content_type_for(request.response_format),
                     extension=request.response_format, usage=usage_of_pieces(finished.pieces, total=len(pieces)))


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


def transcription_usage(outcome: TranscriptionOutcome) -> JobUsage:
    model = outcome.target.model.id
    return JobUsage(
        cost_usd=decimal_text(outcome.charge.total_usd),
        lines=tuple(JobUsageLine(model=model, unit=str(line.unit), quantity=decimal_text(line.quantity),
                                 cost_usd=decimal_text(line.usd), estimated=line.estimated)
                    for line in outcome.charge.lines),
        model_served=model, attempts=sum(a.reached_provider for a in outcome.attempts))


async def run_transcription(gateway: Gateway, record: JobRecord, objects: ObjectStore, progress: Progress,
                            allow: tuple[str, ...], on_route: Callable[[str], None] | None = None,
                            ) -> tuple[JobOutput, TranscriptionOutcome]:
    assert isinstance(record.request, TranscriptionJob)
    form = record.request.form
    route = gateway.route(form.model)
    max_bytes = route.model.capabilities.max_upload_bytes  # type: ignore[union-attr]
    source = await _load_input(record, objects, max_bytes, allow)
    try:
        size = source.seek(0, 2)
        source.seek(0)
        upload = Upload(fields={}, file=source, filename=record.request.filename,
                        content_type="application/octet-stream", file_bytes=size)
        await progress(0.1)
        outcome, _ = await transcribe_upload(gateway, route, form, upload, request_id=record.id, on_route=on_route)
    finally:
        source.close()
    rendered = render_outcome(outcome, form)
    body = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    body.write(rendered.body)
    output = JobOutput(body=body, size=len(rendered.body), content_type=rendered.content_type,
                       extension=TRANSCRIPT_EXTENSIONS[form.response_format], usage=transcription_usage(outcome))
    return output, outcome
