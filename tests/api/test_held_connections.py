"""Connections a client cannot hold: after an early answer to a body still arriving, when idle past the
limit, or when too many are open. Raw sockets on loopback, against gateways with short client timeouts.

An early answer (401 without a key, 413) used to leave the connection open for as long as the client kept
trickling body bytes: each byte restarted uvicorn's keep-alive timer. Now the rest of the body is drained
for at most min(LINGER_SECONDS, client timeout) and LINGER_BYTES, then the connection closes.
"""

from __future__ import annotations

import os
import socket
import time

import httpx
import pytest

from audio_gateway.serving import LINGER_BYTES, OVER_LIMIT_HEAD_SECONDS

from ..conftest import CLIENT_KEYS, provider_env
from ..support.server_thread import GatewayServer

KEY = CLIENT_KEYS["alice"].encode()
CLIENT_TIMEOUT = 1.0
TRICKLE_FOR = 6.0  # how long a client keeps trickling: longer than any bound the gateway may apply


@pytest.fixture(scope="module")
def gateway_1s(fake_openai, fake_siliconflow):
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow,
                                        AUDIO_GATEWAY_CLIENT_TIMEOUT=str(CLIENT_TIMEOUT))).start()
    yield server
    server.stop()


def _connect(server: GatewayServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=5)


def _head(path: str, *headers: bytes) -> bytes:
    return b"POST " + path.encode() + b" HTTP/1.1\r\nHost: a\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


def trickle_until_closed(sock: socket.socket, *, every: float = 0.05, piece: bytes = b"x") -> tuple[bytes, float]:
    """Send one body byte (`piece`) every `every` s while reading; returns (all that was received, seconds until the
    gateway closed), or fails after TRICKLE_FOR seconds with the connection still open."""
    sock.settimeout(every)
    received = b""
    started = time.monotonic()
    while time.monotonic() - started < TRICKLE_FOR:
        try:
            chunk = sock.recv(65536)
            if not chunk:
                return received, time.monotonic() - started
            received += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            return received, time.monotonic() - started
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed for writing; the read above will see the end
    raise AssertionError(f"the gateway held the connection for {TRICKLE_FOR} s; received {received[:200]!r}")


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


@pytest.mark.parametrize("case, head, status", [
    ("no key", _head("/v1/audio/speech", b"Content-Type: application/json", b"Content-Length: 10000000"), 401),
    ("wrong key", _head("/v1/audio/transcriptions", b"Authorization: Bearer sk-nope",
                        b"Content-Type: multipart/form-data; boundary=b", b"Content-Length: 10000000"), 401),
    ("announced 413", _head("/v1/audio/speech", b"Authorization: Bearer " + KEY, b"Content-Type: application/json",
                            b"Content-Length: 2000000"), 413),
])
def test_after_an_early_answer_a_trickling_client_is_cut_off(gateway_1s, case, head, status):
    with _connect(gateway_1s) as sock:
        sock.sendall(head + b'{"model": ')
        received, seconds = trickle_until_closed(sock)
    assert status_of(received) == status, received
    assert b'"error"' in received
    assert seconds < CLIENT_TIMEOUT + 1.5, seconds


def test_a_413_reached_while_the_body_streams_is_cut_off_too(gateway_1s):
    """No length announced: the cap trips on bytes received, mid-body, then the trickle is cut."""
    with _connect(gateway_1s) as sock:
        sock.sendall(_head("/v1/audio/speech", b"Authorization: Bearer " + KEY, b"Content-Type: application/json",
                           b"Transfer-Encoding: chunked"))
        big = b"x" * (1024 * 1024 + 10)
        sock.sendall(b"%x\r\n" % len(big) + big + b"\r\n")
        received, seconds = trickle_until_closed(sock, piece=b"1\r\nx\r\n")  # well-formed chunks, one byte each
    assert status_of(received) == 413, received
    assert seconds < CLIENT_TIMEOUT + 1.5, seconds


def test_a_client_that_sends_its_whole_body_still_reads_the_early_answer(gateway_1s):
    """The drain is what lets it: closing at once with its bytes unread would reset the connection."""
    for _ in range(3):
        response = httpx.post(f"{gateway_1s.url}/v1/audio/speech", content=b"x" * (3 * 1024 * 1024), timeout=10,
                              headers={"Content-Type": "application/json"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_an_early_answer_says_connection_close_and_the_next_request_gets_a_new_connection(gateway_1s):
    """A pooled client must not send its next request into the linger, which drops it unanswered."""
    with _connect(gateway_1s) as sock:
        sock.sendall(_head("/v1/audio/speech", b"Content-Type: application/json", b"Content-Length: 1000") + b"{")
        received, _ = trickle_until_closed(sock)
    head = received.split(b"\r\n\r\n", 1)[0].lower()
    assert status_of(received) == 401 and b"\r\nconnection: close" in head, received
    with httpx.Client(base_url=gateway_1s.url, timeout=10) as http:
        for _ in range(20):
            early = http.post("/v1/audio/speech", content=b"x" * (256 * 1024),
                              headers={"Content-Type": "application/json"})
            assert early.status_code == 401 and early.headers["connection"] == "close"
            after = http.get("/v1/models", headers={"Authorization": "Bearer " + KEY.decode()})
            assert after.status_code == 200, after.text


def test_the_drain_is_bounded_in_bytes(gateway_1s):
    sent = 0
    with _connect(gateway_1s) as sock:
        sock.sendall(_head("/v1/audio/speech", b"Content-Type: application/json", b"Content-Length: 1000000000"))
        chunk = b"x" * (1024 * 1024)
        try:
            while sent < 4 * LINGER_BYTES:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
    assert sent < LINGER_BYTES + 16 * 1024 * 1024  # the limit, plus what socket buffers held


def test_sixty_four_keyless_tricklers_hold_nothing_for_long(gateway_1s):
    """The issue's figure: 64 such connections held 64 descriptors for as long as the client liked."""
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_fds()
    socks = [_connect(gateway_1s) for _ in range(64)]
    for sock in socks:
        sock.sendall(_head("/v1/jobs", b"Content-Type: application/json", b"Content-Length: 50000000") + b"{")
    deadline = time.monotonic() + CLIENT_TIMEOUT + 3
    closed: set[int] = set()
    while time.monotonic() < deadline and len(closed) < len(socks):
        for index, sock in enumerate(socks):
            if index in closed:
                continue
            sock.settimeout(0.01)
            try:
                sock.sendall(b"x")
                while sock.recv(65536):
                    pass
                closed.add(index)  # recv returned b"": the gateway closed it
            except TimeoutError:
                pass
            except OSError:
                closed.add(index)
    for sock in socks:
        sock.close()
    assert len(closed) == 64
    time.sleep(0.2)
    assert open_fds() <= before + 2  # the gateway's side of each is gone too (it runs in this process)


def test_keep_alive_is_untouched_for_requests_read_to_the_end(gateway_1s):
    with httpx.Client(base_url=gateway_1s.url, headers={"Authorization": f"Bearer {CLIENT_KEYS['alice']}"}) as http:
        ports = set()
        for _ in range(3):
            response = http.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Hi."})
            assert response.status_code == 200
            ports.add(response.extensions["network_stream"].get_extra_info("client_addr"))
        assert len(ports) == 1  # one connection served all three


# -- the total number of connections ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_gateway(fake_openai, fake_siliconflow):
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_CLIENT_TIMEOUT="10",
                                        AUDIO_GATEWAY_MAX_CONNECTIONS="4")).start()
    yield server
    server.stop()


def test_past_the_connection_limit_requests_get_503_and_idle_newcomers_a_short_leash(small_gateway):
    held = [_connect(small_gateway) for _ in range(4)]  # silent: each may wait the whole client timeout
    try:
        time.sleep(0.1)
        with _connect(small_gateway) as late:
            late.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            answer = late.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert status_of(answer) == 503 and b"retry-after: 1" in head.lower()
        error = httpx.Response(503, content=body).json()["error"]
        assert (error["type"], error["code"]) == ("service_unavailable", "server_busy")
        started = time.monotonic()
        with _connect(small_gateway) as idle:
            idle.settimeout(5)
            assert idle.recv(1) == b""  # closed without a word, long before the 10 s client timeout
        assert time.monotonic() - started < OVER_LIMIT_HEAD_SECONDS + 1
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.1)
    assert httpx.get(f"{small_gateway.url}/healthz").status_code == 200  # room again
