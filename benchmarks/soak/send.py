"""Sends one `Call` to the gateway (raw httpx or the official SDK) and judges what came back.

The judgement is per response and needs no knowledge of which faults were active: an error must be in
OpenAI's shape, a 5xx must be one the gateway means (502/503/504), a success must carry a usable body,
and no provider key may appear anywhere in what the client sees.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import openai

from .mix import LATEST_JOB, Call
from .stack import CLIENT_KEYS, PROVIDER_KEYS

__all__ = ["Outcome", "Sender", "is_openai_error"]

GATEWAY_5XX = frozenset({502, 503, 504})
TRICKLE_CAP = 15.0
"""Seconds a trickling call keeps sending: well past the gateway's drain bound (5 s), so a held one shows."""
_SECRETS = tuple(key.encode() for key in PROVIDER_KEYS.values())
_NO_JOB = "job_" + "0" * 32


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    expect: str
    seconds: float
    status: int | None = None
    """None: no response head reached the client (a transport error)."""
    transport_error: str | None = None
    truncated: str | None = None
    """The head arrived but the body was cut off (only legitimate for a stream that died mid-way)."""
    body: bytes = b""
    """The first 600 bytes, for examples in the report."""
    error_shape_ok: bool = True
    """For a status >= 400: the whole body was an OpenAI-shaped error."""
    content_type: str = ""
    request_id: str | None = None
    problem: str | None = None
    """Why a 2xx body is unusable, or why an SDK could not parse it."""
    leaked: bool = False
    job_id: str | None = None
    job_key: str | None = None
    idempotency_key: str | None = None
    held: bool = False
    """A trickling call whose connection the gateway still held open after TRICKLE_CAP seconds."""


def is_openai_error(body: bytes) -> bool:
    """``{"error": {"message": str, "type": str, "param": ..., "code": ...}}`` and nothing less."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return False
    return (isinstance(error, dict) and isinstance(error.get("message"), str) and bool(error["message"])
            and isinstance(error.get("type"), str) and "param" in error and "code" in error)


def _success_problem(call: Call, status: int, body: bytes, content_type: str) -> str | None:
    """A 2xx whose body a client could not use; None when it looks right."""
    if call.kind in ("tts", "tts_sdk", "tts_abandon"):
        return None if body else "empty audio"
    if call.kind in ("stt", "stt_sdk", "translate"):
        fmt = (call.form or {}).get("response_format", "json")
        text = body.decode("utf-8", "replace")
        if fmt in ("json", "verbose_json"):
            try:
                return None if isinstance(json.loads(text).get("text"), str) else "no text field"
            except (ValueError, AttributeError):
                return "not JSON"
        if fmt == "srt":
            return None if text.startswith("1\n") else "not SRT"
        if fmt == "vtt":
            return None if text.startswith("WEBVTT") else "not WebVTT"
        return None
    if call.job:
        try:
            job = json.loads(body)
        except ValueError:
            return "job not JSON"
        return None if status == 202 and str(job.get("id", "")).startswith("job_") else f"job answer {status} {job}"
    if content_type.startswith("application/json"):
        try:
            json.loads(body)
        except ValueError:
            return "not JSON"
    return None


class Sender:
    """One pooled httpx client and one SDK client, shared by every in-flight call."""

    def __init__(self, base_url: str, concurrency: int, timeout: float = 30.0) -> None:
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
        self._timeout = httpx.Timeout(timeout, connect=5.0)
        self.http = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=self._timeout)
        self._sdk = openai.AsyncOpenAI(
            base_url=f"{base_url}/v1", api_key=CLIENT_KEYS["alice"], max_retries=0, timeout=timeout,
            http_client=httpx.AsyncClient(limits=limits, timeout=self._timeout))
        self.latest_job: str | None = None
        """The newest job alice got accepted: target of cancel/read calls and of bob's forbidden reads."""

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self._sdk.close()

    async def send(self, call: Call) -> Outcome:
        started = time.monotonic()
        if call.sdk:
            outcome = await self._via_sdk(call, started)
        elif call.trickle is not None:
            outcome = await self._via_trickle(call, started)
        else:
            outcome = await self._via_httpx(call, started)
        if outcome.job_id and outcome.job_key == "alice":
            self.latest_job = outcome.job_id
        return outcome

    def _headers(self, call: Call) -> dict[str, str]:
        if call.key is None:
            return {}
        return {"Authorization": f"Bearer {CLIENT_KEYS.get(call.key, 'sk-soak-wrong-key')}"}

    async def _via_httpx(self, call: Call, started: float) -> Outcome:
        headers = self._headers(call)
        if call.content_type:
            headers["Content-Type"] = call.content_type
        if call.idempotency_key:
            headers["Idempotency-Key"] = call.idempotency_key
        files = {"file": (call.file.name, call.file.data, call.file.content_type)} if call.file else None
        path = call.path.replace(LATEST_JOB, self.latest_job or _NO_JOB)
        request = self.http.build_request(call.method, path, headers=headers, json=call.json, content=call.content,
                                          data=call.form, files=files)
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            return Outcome(kind=call.kind, expect=call.expect, seconds=time.monotonic() - started,
                           transport_error=f"{type(exc).__name__}: {exc}")
        truncated = None
        try:
            if call.abandon and response.status_code == 200:
                body = await anext(response.aiter_raw(), b"")  # then hang up on the rest
            else:
                body = await response.aread()
        except httpx.HTTPError as exc:
            body, truncated = b"", f"{type(exc).__name__}: {exc}"
        finally:
            await response.aclose()
        return self._judge(call, started, response.status_code, response.headers, body, truncated)

    async def _via_trickle(self, call: Call, started: float) -> Outcome:
        """Raw socket: head, the start of the body, then a byte every 0.1 s until the gateway closes."""
        url = urlsplit(str(self.http.base_url))
        head = [f"{call.method} {call.path} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {call.trickle}",
                *(f"{k}: {v}" for k, v in self._headers(call).items())]
        if call.content_type:
            head.append(f"Content-Type: {call.content_type}")
        try:
            reader, writer = await asyncio.open_connection(url.hostname, url.port)
        except OSError as exc:
            return Outcome(kind=call.kind, expect=call.expect, seconds=time.monotonic() - started,
                           transport_error=f"{type(exc).__name__}: {exc}")
        received, closed = b"", False
        try:
            writer.write("\r\n".join(head).encode() + b"\r\n\r\n" + (call.content or b""))
            while time.monotonic() - started < TRICKLE_CAP:
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), 0.1)
                except TimeoutError:
                    chunk = None
                except ConnectionError:
                    closed = True
                    break
                if chunk == b"":
                    closed = True
                    break
                received += chunk or b""
                if not writer.is_closing():
                    writer.write(b"x")
        finally:
            writer.close()
        head_bytes, _, body = received.partition(b"\r\n\r\n")
        if not head_bytes.startswith(b"HTTP/1.1 "):
            return Outcome(kind=call.kind, expect=call.expect, seconds=time.monotonic() - started,
                           transport_error=f"no answer before the connection ended: {received[:100]!r}", held=not closed)
        lines = head_bytes.decode("latin-1").split("\r\n")
        headers = httpx.Headers([(name, value) for name, _, value in (line.partition(": ") for line in lines[1:])])
        outcome = self._judge(call, started, int(lines[0].split(" ")[1]), headers, body, None)
        return msgspec.structs.replace(outcome, held=not closed)

    def _judge(self, call: Call, started: float, status: int, headers: httpx.Headers, body: bytes,
               truncated: str | None, problem: str | None = None) -> Outcome:
        content_type = headers.get("content-type", "")
        if problem is None and truncated is None and 200 <= status < 300:
            problem = _success_problem(call, status, body, content_type)
        seen = body + str(headers.raw).encode()
        job_id = None
        if call.job and status == 202 and problem is None:
            job_id = json.loads(body)["id"]
        return Outcome(kind=call.kind, expect=call.expect, seconds=time.monotonic() - started, status=status,
                       truncated=truncated, body=body[:600], content_type=content_type,
                       error_shape_ok=status < 400 or is_openai_error(body),
                       request_id=headers.get("x-request-id"), problem=problem,
                       leaked=any(secret in seen for secret in _SECRETS), job_id=job_id, job_key=call.key,
                       idempotency_key=call.idempotency_key)

    async def _via_sdk(self, call: Call, started: float) -> Outcome:
        try:
            if call.kind == "tts_sdk":
                return await self._sdk_speech(call, started)
            return await self._sdk_transcription(call, started)
        except openai.APIStatusError as exc:
            return self._judge(call, started, exc.status_code, exc.response.headers, exc.response.content, None)
        except openai.APIConnectionError as exc:
            return Outcome(kind=call.kind, expect=call.expect, seconds=time.monotonic() - started,
                           transport_error=f"{type(exc).__name__}: {exc.__cause__ or exc}")

    async def _sdk_speech(self, call: Call, started: float) -> Outcome:
        async with self._sdk.audio.speech.with_streaming_response.create(**call.json) as response:
            truncated = None
            try:
                body = await response.read()
            except httpx.HTTPError as exc:
                body, truncated = b"", f"{type(exc).__name__}: {exc}"
            return self._judge(call, started, response.status_code, response.headers, body, truncated)

    async def _sdk_transcription(self, call: Call, started: float) -> Outcome:
        assert call.form is not None and call.file is not None
        kwargs: dict[str, Any] = {k: v for k, v in call.form.items() if k in ("model", "response_format", "language")}
        raw = await self._sdk.audio.transcriptions.with_raw_response.create(
            file=(call.file.name, call.file.data, call.file.content_type), **kwargs)
        problem = None
        try:
            raw.parse()  # what an SDK user would get: a Transcription object or a str
        except Exception as exc:  # noqa: BLE001 - any parse failure is a finding, reported as such
            problem = f"SDK could not parse: {type(exc).__name__}: {exc}"
        return self._judge(call, started, raw.status_code, raw.headers, raw.http_response.content, None, problem)
