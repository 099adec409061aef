"""No secret leaves the gateway: provider keys, client keys and the server secret appear in no response or log line.

Each scenario drives the real gateway over loopback while the fakes succeed, refuse the gateway's key
(401), fail (5xx), hang (timeouts), break mid-stream or send junk, so every error path runs. Every
response body and header is searched, and so is every log record the gateway process wrote during the
request (all loggers at DEBUG, tracebacks included; only the fakes' own loggers are left out).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio_gateway.api.auth import KeyRing
from audio_gateway.server_secret import ServerSecret
from audio_gateway.settings import parse_api_keys

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS, OPENAI_KEY, SERVER_SECRET, SILICONFLOW_KEY, keyed_client
from ..fakes import Fault

PROVIDER_KEYS = (OPENAI_KEY, SILICONFLOW_KEY)


def _leaks(text: str) -> list[str]:
    """Every way a key could show: whole, its secret part, or masked the way OpenAI quotes it (sk-pr***6789)."""
    found = [key for key in (*PROVIDER_KEYS, *CLIENT_KEYS.values(), SERVER_SECRET) if key in text]
    found += ["SECRET"] if "SECRET" in text else []
    found += [m.group(0) for key in PROVIDER_KEYS for m in re.finditer(rf"{re.escape(key[:5])}\*+{re.escape(key[-4:])}", text)]
    return found


class LogTap(logging.Handler):
    """Every record from every logger, formatted with its traceback; waits for a request's access line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("tests."):
            return  # the fake providers legitimately see the keys
        text = f"{record.name} {record.levelname} {self.format(record)}"
        with self._changed:
            self.lines.append(text)
            self._changed.notify_all()

    def wait_for(self, needle: str, timeout: float = 5.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: any(needle in line for line in self.lines), timeout), needle


@pytest.fixture
def logs() -> Iterator[LogTap]:
    root = logging.getLogger()
    tap, level = LogTap(), root.level
    root.addHandler(tap)
    root.setLevel(logging.DEBUG)
    try:
        yield tap
    finally:
        root.removeHandler(tap)
        root.setLevel(level)


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: tuple[tuple[str, Fault], ...]
    send: Callable[[httpx.Client], httpx.Response]
    status: int

    def __str__(self) -> str:
        return self.name


def speech(model: str, **extra) -> Callable[[httpx.Client], httpx.Response]:
    return lambda http: http.post("/v1/audio/speech", json={"model": model, "voice": "alloy", "input": "Hi there.", **extra})


def transcription(model: str) -> Callable[[httpx.Client], httpx.Response]:
    return lambda http: http.post("/v1/audio/transcriptions", data={"model": model, "response_format": "verbose_json"},
                                  files={"file": ("a.wav", make_wav(1.0), "audio/wav")})


OA, SF = "fake_openai", "fake_siliconflow"
SCENARIOS = [
    Scenario("speech-ok", (), speech("tts-1"), 200),
    Scenario("speech-ok-siliconflow", (), speech("alibaba/cosyvoice2-0.5b"), 200),
    Scenario("speech-sse-ok", (), speech("gpt-4o-mini-tts", stream_format="sse"), 200),
    Scenario("transcription-ok", (), transcription("whisper-1"), 200),
    Scenario("transcription-ok-siliconflow", (), transcription("alibaba/sensevoice-small"), 200),
    Scenario("speech-401-falls-back", ((OA, Fault.HTTP_401),), speech("tts-1"), 200),
    Scenario("speech-401-no-fallback", ((OA, Fault.HTTP_401),), speech("tts-1-hd"), 502),
    Scenario("speech-401-everywhere", ((OA, Fault.HTTP_401), (SF, Fault.HTTP_401)), speech("tts-1"), 502),
    Scenario("transcription-401-everywhere", ((OA, Fault.HTTP_401), (SF, Fault.HTTP_401)), transcription("whisper-1"), 502),
    Scenario("speech-403-everywhere", ((OA, Fault.HTTP_403), (SF, Fault.HTTP_403)), speech("tts-1"), 502),
    Scenario("speech-5xx-exhausted", ((OA, Fault.HTTP_500), (SF, Fault.HTTP_503)), speech("tts-1"), 502),
    Scenario("transcription-5xx-exhausted", ((OA, Fault.HTTP_502), (SF, Fault.HTTP_504)), transcription("whisper-1"), 502),
    Scenario("speech-timeouts", ((OA, Fault.HANG), (SF, Fault.HANG)), speech("tts-1"), 504),
    Scenario("transcription-timeouts", ((OA, Fault.HANG), (SF, Fault.HANG)), transcription("whisper-1"), 504),
    Scenario("speech-reset-and-junk", ((OA, Fault.RESET), (SF, Fault.MALFORMED)), speech("tts-1"), 502),
    Scenario("transcription-junk", ((OA, Fault.MALFORMED), (SF, Fault.RESET)), transcription("whisper-1"), 502),
    Scenario("speech-upstream-400-passed-through", ((OA, Fault.HTTP_400),), speech("tts-1"), 400),
    Scenario("speech-429-then-fallback", ((OA, Fault.HTTP_429),), speech("tts-1"), 200),
]


def _check_response(response: httpx.Response) -> None:
    body = response.read().decode("utf-8", "replace")
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.multi_items())
    assert not _leaks(body), body
    assert not _leaks(headers), headers


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_no_key_in_any_response_or_log_line(request, gateway, logs, scenario: Scenario) -> None:
    for fake, fault in scenario.faults:
        request.getfixturevalue(fake).inject(fault)
    with keyed_client(gateway.url, "alice") as http:
        response = scenario.send(http)
    assert response.status_code == scenario.status, response.text
    _check_response(response)
    logs.wait_for(response.headers["x-request-id"])
    leaked = [line for line in logs.lines if _leaks(line)]
    assert not leaked, leaked


def test_upstream_key_refusal_says_so_without_quoting_the_provider(client, fake_openai, fake_siliconflow) -> None:
    """The client learns the gateway's provider credentials failed, not what the provider said about them."""
    fake_openai.inject(Fault.HTTP_401)
    fake_siliconflow.inject(Fault.HTTP_401)
    error = client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Hi"}).json()["error"]
    assert [(a["provider"], a["status"]) for a in error["attempts"]] == [("openai", 401), ("siliconflow", 401)]
    for text in (error["message"], *(a["reason"] for a in error["attempts"])):
        assert "Incorrect API key" not in text and "*" not in text and "Invalid token" not in text


PRESENTED = [
    CLIENT_KEYS["alice"] + "x",              # one character too many
    CLIENT_KEYS["alice"][:-1],               # a prefix
    CLIENT_KEYS["bob"].upper(),              # wrong case
    "sk-gw-attacker-<script>alert(1)</script>",
]


@pytest.mark.parametrize("presented", PRESENTED)
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Basic", ""])
def test_a_refused_client_key_is_never_echoed(gateway, logs, presented: str, scheme: str) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        response = http.get("/v1/models", headers={"Authorization": f"{scheme} {presented}".strip()})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert presented not in response.text and presented not in str(response.headers)
    _check_response(response)
    logs.wait_for(response.headers["x-request-id"])
    assert not [line for line in logs.lines if presented in line or _leaks(line)]


@pytest.mark.parametrize("path", ["/v1/models", "/v1/models/tts-1", "/healthz", "/readyz", "/openapi/openapi.json",
                                  "/v1/jobs"])
def test_no_endpoint_reveals_configuration_secrets(client, logs, path: str) -> None:
    response = client.get(path)
    _check_response(response)
    logs.wait_for(response.headers["x-request-id"])
    assert not [line for line in logs.lines if _leaks(line)]


def test_unknown_routes_reveal_nothing(client) -> None:
    for method, path in (("GET", "/no/such/route"), ("DELETE", "/v1/models"), ("PUT", "/v1/audio/speech")):
        response = client.request(method, path)
        assert response.status_code in (404, 405)
        _check_response(response)


KEYS = parse_api_keys(",".join(f"{name}:{key}" for name, key in CLIENT_KEYS.items()), ServerSecret(SERVER_SECRET))


@given(st.one_of(st.text(st.characters(codec="latin-1"), max_size=40),
                 st.sampled_from(list(CLIENT_KEYS.values())).flatmap(
                     lambda key: st.sampled_from([key, key[:-1], key + "0", key.upper(), f" {key} ", key[1:]]))))
def test_only_the_exact_key_authenticates(token: str) -> None:
    """Keys are compared as SHA-256 digests in constant time; the match must still be exact."""
    for header in (f"Bearer {token}", f"bearer {token}"):
        found = KeyRing(KEYS).match(header)
        expected = next((k for k in KEYS if k.secret == token.strip()), None)
        assert found == expected
    assert KeyRing(KEYS).match(f"Basic {token}") is None
