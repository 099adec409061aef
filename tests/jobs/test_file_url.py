"""`file_url` over real TLS on loopback: fetched end to end when allowed, refused everywhere else.

An HTTPS server with its own CA (trustme) serves a WAV. A worker that trusts the CA (SSL_CERT_FILE) and
allows 127.0.0.1 (AUDIO_GATEWAY_FILE_URL_ALLOW) runs an STT job from it to completion. Without the
allow-list every loopback, private and link-local target is refused before any connection, and so is any
redirect; the server's request log proves nothing was fetched.
"""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest

from audio_gateway.errors import InvalidRequest
from audio_gateway.jobs import fetch
from audio_gateway.jobs.fetch import check_file_url, fetch_https

from ..audio_samples import make_wav
from ..conftest import keyed_client
from ..fakes.base import DEFAULT_TRANSCRIPT
from ..support.server_thread import GatewayServer
from ..support.services import WorkerProcess
from ..support.tls_server import TlsFileServer
from .conftest import BUCKET, jobs_env, wait_for_status

WAV = make_wav(1.5)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    server = TlsFileServer(tmp_path_factory.mktemp("tls"), {"/call.wav": WAV, "/big.wav": WAV * 4}, redirects={
        "/to-http": "http://127.0.0.1:1/call.wav",
        "/to-private": "https://10.0.0.1/call.wav",
        "/to-self": "/call.wav",
    })
    yield server
    server.stop()


@pytest.fixture
def trust_ca(files, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(files.ca_path))


def _fetch(url: str, *, allow: tuple[str, ...] = (), max_bytes: int = 10**7) -> bytes:
    into = io.BytesIO()
    asyncio.run(fetch_https(url, into, max_bytes=max_bytes, allow=allow, timeout=5))
    return into.getvalue()


def _refused(url: str, code: str, **kwargs) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        _fetch(url, **kwargs)
    assert (caught.value.param, caught.value.code) == ("file_url", code), caught.value.message
    return caught.value


# -- the fetch itself -------------------------------------------------------------------------------------


def test_an_allowed_https_url_is_fetched(files, trust_ca):
    assert _fetch(files.url("/call.wav"), allow=("127.0.0.1",)) == WAV
    assert _fetch(files.url("/call.wav"), allow=("127.0.0.0/8",)) == WAV


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "127.1.2.3",  # loopback / unspecified
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "[fc00::1]",             # private, CGNAT, ULA
    "169.254.169.254", "[fe80::1]",                                                   # link-local (cloud metadata)
])
def test_private_loopback_and_link_local_targets_are_refused_without_connecting(files, trust_ca, host):
    before = len(files.paths())
    error = _refused(files.url("/call.wav", host=host), "forbidden_url")
    assert "non-public" in error.message
    assert len(files.paths()) == before


def test_the_allow_list_opens_only_what_it_names(files, trust_ca):
    _refused(files.url("/call.wav"), "forbidden_url", allow=("10.0.0.0/8", "localhost.example"))
    _refused(files.url("/call.wav", host="[::1]"), "forbidden_url", allow=("127.0.0.1",))


@pytest.mark.parametrize("path", ["/to-http", "/to-private", "/to-self"])
def test_redirects_are_never_followed(files, trust_ca, path):
    before = files.paths()
    error = _refused(files.url(path), "file_url_unavailable", allow=("127.0.0.1",))
    assert "302" in error.message
    assert files.paths() == [*before, path]  # the target of the redirect was not requested


def test_an_untrusted_certificate_is_refused(files, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent")
    _refused(files.url("/call.wav"), "file_url_unavailable", allow=("127.0.0.1",))


def test_the_vetted_address_is_the_one_connected_to(files, trust_ca, monkeypatch):
    """DNS is asked once; the connection goes to that answer while Host/SNI stay the URL's (TLS checks them)."""
    asked = []

    async def resolve(host, port):
        asked.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(fetch, "_resolve", resolve)  # files.example exists nowhere but here
    assert _fetch(files.url("/call.wav", host="files.example"), allow=("files.example",)) == WAV
    assert asked == ["files.example"]
    assert files.requests[-1] == ("/call.wav", f"files.example:{files.port}")


def test_a_body_over_the_limit_is_refused(files, trust_ca):
    _refused(files.url("/big.wav"), "file_too_large", allow=("127.0.0.1",), max_bytes=len(WAV))


def test_an_unresolvable_host_is_a_clear_error(trust_ca):
    _refused("https://no-such-host.invalid/a.wav", "file_url_unavailable")


@pytest.mark.parametrize("url", ["https://[::1", "https://example.com:port/a.wav", "https://example.com:99999/a.wav",
                                 "http://example.com/a.wav", "file:///etc/passwd", "https:///a.wav", "ftp://x/a"])
def test_malformed_or_non_https_urls_are_refused_at_submit(url):
    with pytest.raises(InvalidRequest) as caught:
        check_file_url(url, BUCKET)
    assert (caught.value.param, caught.value.code) == ("file_url", "invalid_url")


def test_a_malformed_url_is_a_400_not_a_500(alice):
    """Regression: `https://[::1` made urlsplit raise inside the handler (500)."""
    for url in ("https://[::1", "https://example.com:99999/a.wav"):
        response = alice.post("/v1/jobs", json={"model": "whisper-1", "file_url": url})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_url"


# -- end to end through a worker ---------------------------------------------------------------------------


def test_without_the_allow_list_a_loopback_job_fails_as_forbidden(alice, files):
    before = len(files.paths())
    job = alice.post("/v1/jobs", json={"model": "whisper-1", "file_url": files.url("/call.wav", host="localhost")}).json()
    done = wait_for_status(alice, job["id"], {"completed", "failed"})
    assert done["status"] == "failed" and done["error"]["code"] == "forbidden_url"
    assert len(files.paths()) == before


@pytest.fixture(scope="module")
def tls_worker_gateway(fake_openai, fake_siliconflow, redis_server, s3_server, files, tmp_path_factory):
    env = jobs_env(fake_openai, fake_siliconflow, redis_server, s3_server, db=5,
                   AUDIO_GATEWAY_FILE_URL_ALLOW="127.0.0.1")
    server = GatewayServer(env).start()
    worker = WorkerProcess({**env, "SSL_CERT_FILE": str(files.ca_path)},
                           tmp_path_factory.mktemp("tls-worker") / "worker.log")
    yield server
    worker.stop()
    server.stop()


def test_an_stt_job_from_an_https_file_url_completes(tls_worker_gateway, files):
    with keyed_client(tls_worker_gateway.url, "alice") as http:
        response = http.post("/v1/jobs", json={"model": "whisper-1", "file_url": files.url("/call.wav"),
                                               "response_format": "text"})
        assert response.status_code == 202, response.text
        done = wait_for_status(http, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert [(line["unit"], line["quantity"]) for line in done["usage"]["lines"]] == [("second", "2")]
    assert httpx.get(done["result"]["url"], timeout=10).text == DEFAULT_TRANSCRIPT + "\n"
    assert "/call.wav" in files.paths()
