"""The Keys page's API: issue 12's key operations through the console, with its session and CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx

from .conftest import ADMIN, eventually


def _settled(key: dict) -> dict:
    """A key's view without `last_used_at`, which the cache writes in batches whenever it likes."""
    return {k: v for k, v in key.items() if k not in ("last_used_at", "secret")}


def _works(url: str, secret: str) -> bool:
    return httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_a_key_created_and_revoked_through_the_console_is_the_key_apis(console_gateway):
    session, token = console_gateway.session()
    url = console_gateway.url
    with session, console_gateway.admin() as admin:
        created = session.post("/console/api/keys", headers={"x-csrf-token": token},
                               json={"name": "console-team", "budget_usd": "2.50", "budget_period": "month",
                                     "rpm": 30, "models": ["openai/tts-1"]})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret"].startswith("sk-gw-") and body["budget_usd"] == "2.5" and body["spend_usd"] == "0"
        listed = {k["name"]: k for k in admin.get("/v1/gateway/keys").json()["data"]}
        assert _settled(listed["console-team"]) == _settled(body)
        assert [_settled(k) for k in session.get("/console/api/keys").json()["data"]] == \
            [_settled(k) for k in admin.get("/v1/gateway/keys").json()["data"]]
        assert eventually(lambda: _works(url, body["secret"]))
        unpatched = session.patch("/console/api/keys/console-team", json={"rpm": None})
        assert unpatched.status_code == 403 and admin.get("/v1/gateway/keys/console-team").json()["rpm"] == 30
        patched = session.patch("/console/api/keys/console-team", headers={"x-csrf-token": token},
                                json={"rpm": None, "budget_usd": "4"})
        assert patched.status_code == 200
        assert _settled(patched.json()) == _settled(admin.get("/v1/gateway/keys/console-team").json())
        assert patched.json()["rpm"] is None and patched.json()["budget_usd"] == "4"
        refused = session.delete("/console/api/keys/console-team")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_token_invalid"
        assert session.delete("/console/api/keys/console-team", headers={"x-csrf-token": token}).status_code == 200
        assert "console-team" not in {k["name"] for k in admin.get("/v1/gateway/keys").json()["data"]}
        assert eventually(lambda: not _works(url, body["secret"]))


def test_creating_a_key_without_the_csrf_token_writes_nothing(console_gateway):
    session, _ = console_gateway.session()
    with session, console_gateway.admin() as admin:
        refused = session.post("/console/api/keys", json={"name": "sneaky"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_token_invalid"
        assert "sneaky" not in {k["name"] for k in admin.get("/v1/gateway/keys").json()["data"]}


def test_bad_key_input_is_a_400_naming_the_field(console_gateway):
    session, token = console_gateway.session()
    with session:
        bad = session.post("/console/api/keys", headers={"x-csrf-token": token},
                           json={"name": "k1", "budget_usd": "5", "budget_period": "fortnight"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "budget_period"
        taken = session.post("/console/api/keys", headers={"x-csrf-token": token}, json={"name": ADMIN[0]})
        assert taken.status_code == 400 and taken.json()["error"]["param"] == "name"


def test_a_database_admin_keys_session_ends_when_the_key_is_revoked(console_gateway):
    with console_gateway.admin() as admin:
        made = admin.post("/v1/gateway/keys", json={"name": "night-ops", "admin": True}).json()
        assert eventually(lambda: console_gateway.sign_in(made["secret"]).status_code == 200)
        session, _ = console_gateway.session(made["secret"])
        with session:
            assert session.get("/console/api/session").json()["key"] == "night-ops"
            assert admin.delete("/v1/gateway/keys/night-ops").status_code == 200
            assert eventually(lambda: session.get("/console/api/overview").status_code == 401)


def test_environment_keys_show_this_months_spend_from_the_ledger(console_gateway):
    now = datetime.now(UTC)
    month = datetime(now.year, now.month, 1, tzinfo=UTC)
    session, _ = console_gateway.session()
    with session, console_gateway.admin() as admin:
        shown = {k["name"]: k for k in session.get("/console/api/keys/environment").json()["data"]}
        costs = admin.get("/v1/organization/costs", params={
            "start_time": int(month.timestamp()), "bucket_width": "1d", "limit": 31, "group_by": "api_key_id",
            # explicit: the default end is now in whole seconds, which leaves out a row of this very second
            "end_time": int(datetime.now(UTC).timestamp()) + 1}).json()
    spend: dict[str, Decimal] = {}
    for bucket in costs["data"]:
        for result in bucket["results"]:
            spend[result["api_key_id"]] = spend.get(result["api_key_id"], Decimal(0)) + Decimal(result["cost_usd"])
    assert set(shown) == {"alice", "bob", ADMIN[0]}
    for name, key in shown.items():
        assert Decimal(key["spend_usd"]) == spend.get(name, Decimal(0))
    assert shown[ADMIN[0]]["admin"] and not shown["alice"]["admin"]
    assert shown["alice"]["last_used_at"] is not None
