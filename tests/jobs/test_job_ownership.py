"""Two keys on one real jobs stack (redis-server, moto S3, a worker process): what is whose.

- Storage paths carry an owner id made from the key's name under the server secret, never a hash of the
  client's secret (that path is in every presigned URL a client shares).
- An `s3://` file_url may name only the caller's own job objects, or objects outside the job prefix that
  AUDIO_GATEWAY_S3_READ_ALLOW opens; anything else is a 403 at submission and nothing is queued.
- Jobs and objects made under the legacy owner id (sha256 of the secret) stay their key's: readable,
  listed, cancellable, nameable by s3://, idempotency keys honoured; never another key's.
"""

from __future__ import annotations

import hashlib
import time
from urllib.parse import urlsplit

import boto3
import httpx
import msgspec
import pytest
import redis

from audio_gateway.jobs.model import JobRecord, JobResult, new_job_id, now
from audio_gateway.server_secret import ServerSecret
from audio_gateway.settings import owner_id

from ..audio_samples import make_wav
from ..conftest import CLIENT_KEYS, SERVER_SECRET
from .conftest import BUCKET, INBOX, wait_for_status

PREFIX = "test/"
SPEECH = {"model": "tts-1", "voice": "alloy", "input": "Whose words are these?"}
STT = "alibaba/sensevoice-small"


def owner(name: str) -> str:
    return owner_id(ServerSecret(SERVER_SECRET), name)


def legacy_owner(name: str) -> str:
    return hashlib.sha256(CLIENT_KEYS[name].encode()).hexdigest()[:32]


@pytest.fixture(scope="module")
def s3(s3_server):
    return boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


@pytest.fixture(scope="module")
def records(redis_server):
    client = redis.Redis.from_url(redis_server.url(0))
    yield client
    client.close()


def _object_key(url: str) -> str:
    """The S3 key inside a path-style presigned URL (/<bucket>/<key>)."""
    path = urlsplit(url).path
    assert path.startswith(f"/{BUCKET}/"), url
    return path[len(BUCKET) + 2:]


def _completed_speech(http: httpx.Client) -> dict:
    job = http.post("/v1/jobs", json=SPEECH).json()
    done = wait_for_status(http, job["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    return done


def _job_ids(http: httpx.Client) -> list[str]:
    return [job["id"] for job in http.get("/v1/jobs", params={"limit": 100}).json()["data"]]


def _refused(http: httpx.Client, key: str) -> None:
    before = _job_ids(http)
    response = http.post("/v1/jobs", json={"model": STT, "file_url": f"s3://{BUCKET}/{key}"})
    assert response.status_code == 403, response.text
    assert response.json()["error"] == {
        "message": response.json()["error"]["message"], "type": "invalid_request_error", "param": "file_url",
        "code": "insufficient_permissions"}
    assert _job_ids(http) == before  # nothing queued


def _transcribed(http: httpx.Client, key: str) -> dict:
    response = http.post("/v1/jobs", json={"model": STT, "file_url": f"s3://{BUCKET}/{key}"})
    assert response.status_code == 202, response.text
    done = wait_for_status(http, response.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    return done


# -- owner ids and storage paths -------------------------------------------------------------------------


def test_result_paths_carry_the_owner_id_made_from_the_key_name_not_a_hash_of_its_secret(alice):
    done = _completed_speech(alice)
    url = done["result"]["url"]
    assert _object_key(url) == f"{PREFIX}{owner('alice')}/{done['id']}/output.mp3"
    secret_digest = hashlib.sha256(CLIENT_KEYS["alice"].encode()).hexdigest()
    assert secret_digest[:12] not in url and legacy_owner("alice") not in url


# -- item 1: s3:// names only what the caller owns -------------------------------------------------------


def test_another_keys_job_result_cannot_be_named_but_ones_own_can(alice, bob):
    result = _object_key(_completed_speech(alice)["result"]["url"])
    _refused(bob, result)
    done = _transcribed(alice, result)
    assert done["usage"]["model_served"] == STT


def test_another_keys_upload_cannot_be_named_either(alice, bob):
    response = alice.post("/v1/jobs", data={"model": "whisper-1"},
                          files={"file": ("meeting.wav", make_wav(1.0), "audio/wav")})
    assert response.status_code == 202, response.text
    upload = f"{PREFIX}{owner('alice')}/{response.json()['id']}/input/meeting.wav"
    _refused(bob, upload)
    _transcribed(alice, upload)


def test_a_refusal_does_not_depend_on_whether_the_object_exists(bob):
    _refused(bob, f"{PREFIX}{owner('alice')}/job_{'0' * 32}/output.mp3")
    _refused(bob, f"{PREFIX}{owner('alice')}/anything")


def test_outside_the_job_prefix_only_what_the_operator_allows_may_be_named(alice, s3):
    s3.put_object(Bucket=BUCKET, Key=f"{INBOX}allowed.wav", Body=make_wav(1.0), ContentType="audio/wav")
    s3.put_object(Bucket=BUCKET, Key="private/payroll.wav", Body=make_wav(1.0), ContentType="audio/wav")
    _transcribed(alice, f"{INBOX}allowed.wav")
    _refused(alice, "private/payroll.wav")
    _refused(alice, f"{PREFIX}stray.wav")  # in the job prefix but nobody's: still not nameable


@pytest.mark.parametrize("key", [
    f"{PREFIX}{{alice}}/../{{bob}}/job_{'1' * 32}/output.mp3",
    f"{PREFIX}{{alice}}/./x.wav",
    f"{PREFIX}{{alice}}//x.wav",
])
def test_dot_segments_cannot_walk_out_of_ones_own_prefix(alice, key):
    response = alice.post("/v1/jobs", json={"model": STT, "file_url": f"s3://{BUCKET}/"
                                            + key.format(alice=owner("alice"), bob=owner("bob"))})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_url"


# -- legacy owner ids: what a key made before stays its own ------------------------------------------------


def _legacy_record(records: redis.Redis, name: str, **fields) -> JobRecord:
    record = JobRecord(id=new_job_id(), owner=legacy_owner(name), kind="tts", model="openai/tts-1",
                       created_at=now(), request=SPEECH, **fields)
    records.set(f"ag:job:{record.id}", msgspec.json.encode(record), ex=3600)
    records.zadd(f"ag:jobs:{record.owner}", {record.id: time.time_ns() // 1_000_000})
    time.sleep(0.002)  # distinct millisecond scores, so list order is creation order
    return record


def test_legacy_jobs_stay_readable_listed_and_cancellable_by_their_key_only(alice, bob, records, s3):
    audio = b"ID3 legacy result bytes"
    result_key = f"{PREFIX}{legacy_owner('alice')}/job_{'a' * 32}/output.mp3"
    s3.put_object(Bucket=BUCKET, Key=result_key, Body=audio, ContentType="audio/mpeg")
    finished = _legacy_record(records, "alice", status="completed", completed_at=now(),
                              result=JobResult(key=result_key, content_type="audio/mpeg", bytes=len(audio)))
    waiting = _legacy_record(records, "alice")
    fresh = alice.post("/v1/jobs", json=SPEECH).json()["id"]

    read = alice.get(f"/v1/jobs/{finished.id}")
    assert read.status_code == 200 and read.json()["status"] == "completed"
    assert httpx.get(read.json()["result"]["url"]).content == audio
    listed = _job_ids(alice)
    assert listed.index(fresh) < listed.index(waiting.id) < listed.index(finished.id)  # newest first, one list
    assert not records.exists(f"ag:jobs:{legacy_owner('alice')}")  # the old index was folded into the new one
    assert _job_ids(alice) == listed

    for job_id in (finished.id, waiting.id):
        assert bob.get(f"/v1/jobs/{job_id}").status_code == 404
        assert bob.delete(f"/v1/jobs/{job_id}").status_code == 404
        assert job_id not in _job_ids(bob)
    cancelled = alice.delete(f"/v1/jobs/{waiting.id}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_legacy_objects_can_be_named_by_their_key_only(alice, bob, s3):
    key = f"{PREFIX}{legacy_owner('alice')}/job_{'b' * 32}/input/old.wav"
    s3.put_object(Bucket=BUCKET, Key=key, Body=make_wav(1.0), ContentType="audio/wav")
    _refused(bob, key)
    _transcribed(alice, key)


def test_an_idempotency_key_bound_under_the_legacy_owner_still_answers_with_its_job(alice, records):
    raw = msgspec.json.encode({**SPEECH, "input": "Submitted before the upgrade."})
    earlier = _legacy_record(records, "alice", body_hash=hashlib.sha256(raw).hexdigest())
    records.set(f"ag:idem:{legacy_owner('alice')}:chapter-9", earlier.id, ex=3600)
    headers = {"Idempotency-Key": "chapter-9", "Content-Type": "application/json"}
    replay = alice.post("/v1/jobs", content=raw, headers=headers)
    assert replay.status_code == 202 and replay.json()["id"] == earlier.id
    other = alice.post("/v1/jobs", content=msgspec.json.encode(SPEECH), headers=headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"


# -- GET /v1/jobs?after= ---------------------------------------------------------------------------------


def test_an_after_that_is_none_of_ones_jobs_is_a_400_naming_after(alice, bob):
    bobs = bob.post("/v1/jobs", json=SPEECH).json()["id"]
    for after in ("bogus", bobs, f"job_{'0' * 32}"):
        response = alice.get("/v1/jobs", params={"after": after})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "after"
    first = alice.get("/v1/jobs", params={"limit": 1}).json()
    assert alice.get("/v1/jobs", params={"after": first["last_id"]}).status_code == 200
