"""The Usage and Costs endpoints and the per-request row, over real HTTP, against both stores."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from ..conftest import provider_env
from ..support.server_thread import GatewayServer
from .conftest import insert_rows, run
from .dataset import DATASET, DAY, PAGED_DAYS
from .rows import T0_UNIX

SPEECHES = "/v1/organization/usage/audio_speeches"
TRANSCRIPTIONS = "/v1/organization/usage/audio_transcriptions"
COSTS = "/v1/organization/costs"
FIRST_DAYS = {"start_time": T0_UNIX, "end_time": T0_UNIX + 3 * DAY}


def _get(gateway, who: str, path: str, params) -> dict:
    with gateway.client(who) as http:
        response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_speeches_by_model_and_key_snapshot(usage_gateway, snapshot):
    body = _get(usage_gateway, "ops", SPEECHES, {**FIRST_DAYS, "group_by": ["model", "api_key_id"]})
    assert body == snapshot


def test_transcriptions_hourly_snapshot(usage_gateway, snapshot):
    body = _get(usage_gateway, "ops", TRANSCRIPTIONS, {"start_time": T0_UNIX, "end_time": T0_UNIX + 2 * 3600,
                                                       "bucket_width": "1h", "group_by[]": "model"})
    assert body == snapshot


def test_costs_by_line_item_snapshot(usage_gateway, snapshot):
    body = _get(usage_gateway, "ops", COSTS, {**FIRST_DAYS, "group_by": "line_item,api_key_id"})
    assert body == snapshot


def test_request_row_snapshot(usage_gateway, snapshot):
    with usage_gateway.client("alice") as http:
        response = http.get("/v1/usage/requests/req_alice_2")
    assert response.status_code == 200 and response.json() == snapshot


def test_costs_are_exact_to_the_last_digit(usage_gateway):
    with usage_gateway.client("ops") as http:
        text = http.get(COSTS, params={"start_time": T0_UNIX, "end_time": T0_UNIX + PAGED_DAYS * DAY,
                                       "limit": 31}).text
    body = json.loads(text, parse_float=Decimal)                 # read the numbers as written, not as floats
    results = [r for bucket in body["data"] for r in bucket["results"]]
    expected = sum((row.cost_usd for row in DATASET), Decimal(0))
    assert sum((r["amount"]["value"] for r in results), Decimal(0)) == expected
    assert sum((Decimal(r["cost_usd"]) for r in results), Decimal(0)) == expected
    assert '"value":12345678.123456789' in text


def test_usage_counts_characters_seconds_and_requests(usage_gateway):
    span = {"start_time": T0_UNIX, "end_time": T0_UNIX + PAGED_DAYS * DAY, "limit": 31}
    speech = [r for b in _get(usage_gateway, "ops", SPEECHES, span)["data"] for r in b["results"]]
    stt = [r for b in _get(usage_gateway, "ops", TRANSCRIPTIONS, span)["data"] for r in b["results"]]
    tts_rows = [row for row in DATASET if row.kind == "tts"]
    stt_rows = [row for row in DATASET if row.kind == "stt"]
    assert sum(r["characters"] for r in speech) == sum(row.characters for row in tts_rows)
    assert sum(r["num_model_requests"] for r in speech) == len(tts_rows)       # the failed request counts
    assert sum(r["seconds"] for r in stt) == 1 + 61 + 126                     # whole seconds, rounded up per row
    assert sum(r["num_model_requests"] for r in stt) == len(stt_rows)


def test_pages_of_buckets_follow_next_page(usage_gateway):
    params = {"start_time": T0_UNIX, "end_time": T0_UNIX + PAGED_DAYS * DAY, "limit": 3}
    buckets, pages = [], 0
    while True:
        body = _get(usage_gateway, "ops", SPEECHES, params)
        buckets += body["data"]
        pages += 1
        if not body["has_more"]:
            assert body["next_page"] is None
            break
        params["page"] = body["next_page"]
    assert pages == 4 and [b["start_time"] for b in buckets] == [T0_UNIX + d * DAY for d in range(PAGED_DAYS)]
    assert all(b["end_time"] - b["start_time"] == DAY for b in buckets)
    whole = _get(usage_gateway, "ops", SPEECHES, {**params, "limit": 31, "page": None})
    assert buckets == whole["data"]


def test_without_end_time_the_range_runs_to_now(usage_gateway):
    body = _get(usage_gateway, "alice", SPEECHES, {"start_time": T0_UNIX})
    assert len(body["data"]) == 7 and body["has_more"] is True and body["next_page"]


class TestWhoSeesWhat:
    def test_an_ordinary_key_sees_only_its_own(self, usage_gateway):
        body = _get(usage_gateway, "bob", SPEECHES, {**FIRST_DAYS, "group_by": "api_key_id"})
        keys = {r["api_key_id"] for b in body["data"] for r in b["results"]}
        assert keys == {"bob"}
        own = _get(usage_gateway, "bob", COSTS, {**FIRST_DAYS, "api_key_ids": "bob"})
        assert sum(Decimal(r["cost_usd"]) for b in own["data"] for r in b["results"]) == sum(
            (row.cost_usd for row in DATASET if row.api_key_id == "bob"), Decimal(0))

    def test_naming_another_key_is_forbidden(self, usage_gateway):
        with usage_gateway.client("alice") as http:
            response = http.get(COSTS, params={**FIRST_DAYS, "api_key_ids": ["alice", "bob"]})
        assert response.status_code == 403
        assert response.json()["error"] | {"message": ""} == {
            "message": "", "type": "invalid_request_error", "param": "api_key_ids", "code": "insufficient_permissions"}

    def test_an_admin_key_sees_every_key_and_may_filter(self, usage_gateway):
        every = _get(usage_gateway, "ops", SPEECHES, {**FIRST_DAYS, "group_by": "api_key_id"})
        assert {r["api_key_id"] for b in every["data"] for r in b["results"]} == {"alice", "bob", "ops"}
        bob = _get(usage_gateway, "ops", SPEECHES, {**FIRST_DAYS, "group_by": "api_key_id", "api_key_ids": "bob"})
        assert {r["api_key_id"] for b in bob["data"] for r in b["results"]} == {"bob"}

    def test_request_rows_are_private_to_their_key(self, usage_gateway):
        with usage_gateway.client("alice") as alice, usage_gateway.client("ops") as ops:
            assert alice.get("/v1/usage/requests/req_alice_1").status_code == 200
            hidden = alice.get("/v1/usage/requests/req_bob_1")
            assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "request_not_found"
            assert ops.get("/v1/usage/requests/req_bob_1").json()["api_key_id"] == "bob"
            assert ops.get("/v1/usage/requests/no_such_request").status_code == 404


BAD = [
    ({}, "start_time"),
    ({"start_time": "yesterday"}, "start_time"),
    ({"start_time": "1.5"}, "start_time"),
    ({"start_time": "99999999999999999999"}, "start_time"),
    ({"start_time": T0_UNIX, "end_time": T0_UNIX}, "end_time"),
    ({"start_time": T0_UNIX, "end_time": "soon"}, "end_time"),
    ({"start_time": T0_UNIX, "bucket_width": "2d"}, "bucket_width"),
    ({"start_time": T0_UNIX, "limit": 0}, "limit"),
    ({"start_time": T0_UNIX, "limit": 32}, "limit"),                      # 1d buckets: at most 31
    ({"start_time": T0_UNIX, "limit": "ten"}, "limit"),
    ({"start_time": T0_UNIX, "group_by": "line_item"}, "group_by"),      # costs only
    ({"start_time": T0_UNIX, "page": "%%%not-a-cursor"}, "page"),
    ({"start_time": T0_UNIX, "page": "YnVja2V0OjE3MzA0MTkyMDE"}, "page"),  # a cursor, but not on a bucket edge
    ({"start_time": [T0_UNIX, T0_UNIX + 1]}, "start_time"),
]


@pytest.mark.parametrize("params, param", BAD, ids=[f"{p}-{i}" for i, (_, p) in enumerate(BAD)])
def test_bad_input_is_a_400_naming_the_param(usage_gateway, params, param):
    with usage_gateway.client("alice") as http:
        response = http.get(SPEECHES, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]


def test_costs_accept_up_to_180_buckets_and_reject_more(usage_gateway):
    with usage_gateway.client("ops") as http:
        assert http.get(COSTS, params={"start_time": T0_UNIX, "limit": 180}).status_code == 200
        assert http.get(COSTS, params={"start_time": T0_UNIX, "limit": 181}).json()["error"]["param"] == "limit"


def test_projects_and_users_match_nothing(usage_gateway):
    body = _get(usage_gateway, "ops", SPEECHES, {**FIRST_DAYS, "project_ids": "proj_abc"})
    assert [b["results"] for b in body["data"]] == [[], [], []]


def test_an_unreachable_database_is_a_503_not_a_500(usage_gateway, request):
    if usage_gateway.kind != "postgresql":
        pytest.skip("only a server can go away")
    server = request.getfixturevalue("postgres_server")
    server.stop()
    try:
        with usage_gateway.client("ops") as http:
            response = http.get(COSTS, params=FIRST_DAYS)
    finally:
        server.start()
    assert response.status_code == 503 and response.json()["error"]["code"] == "ledger_unavailable"
    assert response.headers["retry-after"] == "5"


def test_open_mode_shows_everything(fake_openai, fake_siliconflow, tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    run(insert_rows(url, DATASET))
    server = GatewayServer(provider_env(fake_openai, fake_siliconflow, AUDIO_GATEWAY_API_KEYS="",
                                        AUDIO_GATEWAY_DATABASE_URL=url)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            every = http.get(SPEECHES, params={**FIRST_DAYS, "group_by": "api_key_id"}).json()
            bob = http.get(COSTS, params={**FIRST_DAYS, "api_key_ids": "bob", "group_by": "api_key_id"}).json()
            row = http.get("/v1/usage/requests/req_bob_1")
    finally:
        server.stop()
    assert {r["api_key_id"] for b in every["data"] for r in b["results"]} == {"alice", "bob", "ops"}
    assert {r["api_key_id"] for b in bob["data"] for r in b["results"]} == {"bob"}
    assert row.status_code == 200 and row.json()["id"] == "req_bob_1"
