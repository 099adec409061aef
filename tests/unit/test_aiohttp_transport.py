"""AiohttpTransport keeps httpx's contract: streamed bodies both ways, httpx exceptions, a bounded pool.

Each test runs a tiny raw-socket HTTP server on loopback that behaves exactly as the case needs
(answers, hangs, hangs up), so what is checked is the wire behaviour, not a mock's.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest

from audio_gateway.providers.aiohttp_transport import AiohttpTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TIMEOUT = httpx.Timeout(connect=2, read=0.3, write=2, pool=0.3)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """Head and body (content-length or chunked) of one request."""
    head = await reader.readuntil(b"\r\n\r\n")
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return body
            body += (await reader.readexactly(size + 2))[:-2]
    length = next((int(line.split(b":")[1]) for line in lower.split(b"\r\n") if line.startswith(b"content-length:")), 0)
    return await reader.readexactly(length)


def _run(handler: Handler, scenario: Callable[[httpx.AsyncClient, dict], Awaitable[None]], max_connections: int = 4) -> dict:
    """Serve `handler` on a free port and run `scenario(client, seen)`; `seen` collects what the server saw."""
    seen: dict = {"connections": 0}

    async def main() -> None:
        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen["connections"] += 1
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(counted, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/", timeout=TIMEOUT,
                                             transport=AiohttpTransport(max_connections)) as client:
            await scenario(client, seen)

    asyncio.run(main())
    return seen


def _answer(body: bytes = b"hello", status: str = "200 OK") -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                request = await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            handler.bodies.append(request)  # type: ignore[attr-defined]
            writer.write(b"HTTP/1.1 %s\r\ncontent-type: audio/mpeg\r\ncontent-length: %d\r\n\r\n%s"
                         % (status.encode(), len(body), body))
            await writer.drain()

    handler.bodies = []  # type: ignore[attr-defined]
    return handler


def test_answers_stream_and_connections_are_reused():
    handler = _answer(b"x" * 100_000)

    async def scenario(client: httpx.AsyncClient, seen: dict) -> None:
        for _ in range(3):
            response = await client.post("audio/speech", content=b'{"a":1}')
            assert response.status_code == 200 and response.content == b"x" * 100_000
            assert response.headers["content-type"] == "audio/mpeg"

    seen = _run(handler, scenario)
    assert seen["connections"] == 1
    assert handler.bodies == [b'{"a":1}'] * 3  # type: ignore[attr-defined]


def test_streamed_request_bodies_arrive_whole():
    handler = _answer()

    async def body():
        for piece in (b"one,", b"two,", b"three"):
            yield piece

    async def scenario(client: httpx.AsyncClient, seen: dict) -> None:
        files = {"file": ("a.wav", b"\x00\x01" * 50_000, "audio/wav")}
        assert (await client.post("audio/transcriptions", data={"model": "whisper-1"}, files=files)).status_code == 200
        assert (await client.post("audio/transcriptions", content=body())).status_code == 200

    _run(handler, scenario)
    multipart, streamed = handler.bodies  # type: ignore[attr-defined]
    assert b'name="model"\r\n\r\nwhisper-1' in multipart and b"\x00\x01" * 50_000 in multipart
    assert streamed == b"one,two,three"


def test_refused_connection_is_a_connect_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there

    async def main() -> None:
        async with httpx.AsyncClient(timeout=TIMEOUT, transport=AiohttpTransport(4)) as client:
            with pytest.raises(httpx.ConnectError):
                await client.post(f"http://127.0.0.1:{port}/audio/speech", content=b"{}")

    asyncio.run(main())


def test_silent_server_is_a_read_timeout():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(2)

    async def scenario(client: httpx.AsyncClient, seen: dict) -> None:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("audio/speech", content=b"{}")

    _run(silent, scenario)


def test_hang_up_before_answering_is_a_protocol_error():
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)

    async def scenario(client: httpx.AsyncClient, seen: dict) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("audio/speech", content=b"{}")

    _run(hang_up, scenario)


def test_truncated_body_is_a_transport_error_while_streaming():
    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()

    async def scenario(client: httpx.AsyncClient, seen: dict) -> None:
        async with client.stream("POST", "audio/speech", content=b"{}") as response:
            with pytest.raises(httpx.TransportError):
                async for _ in response.aiter_raw():
                    pass

    _run(truncated, scenario)


def test_full_pool_times_out_as_pool_timeout_and_closing_frees_the_slot():
    handler = _answer(b"y" * 10)

    async def scenario(client: httpx.AsyncClient, seen: dict) -> None:
        held = [await client.send(client.build_request("POST", "audio/speech", content=b"{}"), stream=True)
                for _ in range(2)]
        with pytest.raises(httpx.PoolTimeout):
            await client.post("audio/speech", content=b"{}")
        await held[0].aclose()
        await held[0].aclose()  # closing twice frees its slot once
        third = await client.send(client.build_request("POST", "audio/speech", content=b"{}"), stream=True)
        with pytest.raises(httpx.PoolTimeout):
            await client.post("audio/speech", content=b"{}")
        await third.aclose()
        await held[1].aclose()
        assert (await client.post("audio/speech", content=b"{}")).content == b"y" * 10

    _run(handler, scenario, max_connections=2)


def test_closing_a_response_early_drops_its_connection():
    handler = _answer(b"z" * 1_000_000)

    async def scenario(client: httpx.AsyncClient, seen: dict) -> None:
        async with client.stream("POST", "audio/speech", content=b"{}") as response:
            async for _ in response.aiter_raw():
                break
        assert (await client.post("audio/speech", content=b"{}")).content == b"z" * 1_000_000

    assert _run(handler, scenario)["connections"] == 2
