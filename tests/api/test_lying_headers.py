"""Uploads whose headers claim 1 s but hold 119.9 s, through the running gateway (issue 20).

They are billed the seconds the provider receives and decodes (120, see ``whole_seconds``), and a model's
``max_duration_seconds`` sees the same figure. The gateway is the real app on loopback; the providers are
the fakes.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ..audio_lies import HELD, UPLOADED_LIARS, liar, liar_upload, wav_with_data_size, whole_seconds
from ..conftest import keyed_client, provider_env
from ..support.catalogs import catalog_with_duration_limit
from ..support.server_thread import GatewayServer

LIMIT = 60  # max_duration_seconds of SenseVoice in the limited catalog: above the claim, below the audio


@pytest.fixture(scope="module")
def limited(tmp_path_factory, fake_openai, fake_siliconflow):
    catalog = catalog_with_duration_limit(tmp_path_factory.mktemp("limited"), LIMIT)
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow), catalog_dir=catalog).start()
    with keyed_client(server.url, "alice") as http:
        yield http
    server.stop()


@pytest.mark.parametrize("kind", UPLOADED_LIARS)
def test_billed_for_the_audio_not_the_header(client, fake_openai, kind):
    seconds = whole_seconds(kind)
    response = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files=liar_upload(kind))
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-billing-unit"] == "second"
    assert response.headers["x-gateway-billing-quantity"] == str(seconds)
    assert Decimal(response.headers["x-gateway-cost-usd"]) == Decimal("0.0001") * seconds  # $0.006 a minute
    assert response.json()["usage"] == {"type": "duration", "seconds": seconds}
    assert fake_openai.requests[-1].file.data == liar(kind, HELD)  # the provider got every byte of it


@pytest.mark.parametrize("kind", UPLOADED_LIARS)
def test_cannot_slip_past_max_duration_seconds(limited, fake_siliconflow, kind):
    response = limited.post("/v1/audio/transcriptions", data={"model": "alibaba/sensevoice-small"},
                            files=liar_upload(kind))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == ("file", "audio_too_long", "invalid_request_error")
    assert f"at most {LIMIT} s" in error["message"]
    assert fake_siliconflow.hits == 0


def test_the_limit_still_admits_audio_under_it(limited, fake_siliconflow):
    response = limited.post("/v1/audio/transcriptions", data={"model": "alibaba/sensevoice-small"},
                            files={"file": ("short.flac", liar("flac", 30.0, claimed=1.0), "audio/flac")})
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-billing-quantity"] == "30"


def test_wav_whose_data_size_hides_its_samples_is_refused(client, fake_openai):
    data = wav_with_data_size(claimed=1.0, held=HELD)
    response = client.post("/v1/audio/transcriptions", data={"model": "whisper-1"},
                           files={"file": ("liar.wav", data, "audio/wav")})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("file", "invalid_file_format")
    assert "WAV chunk sizes do not match the file" in error["message"]
    assert fake_openai.hits == 0
