"""The console's HTTP surface: sign-in, the cookie, CSRF, CSP, and JSON whose numbers are the public API's."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ..conftest import CLIENT_KEYS
from .conftest import ADMIN


def _costs(admin, start: int, end: int, **params) -> list[dict]:
    body = admin.get("/v1/organization/costs", params={"start_time": start, "end_time": end, "bucket_width": "1d",
                                                          "limit": 180, **params}).json()
    return [result for bucket in body["data"] for result in bucket["results"]]


def _requests(admin, start: int, end: int) -> int:
    total = 0
    for report in ("audio_speeches", "audio_transcriptions"):
        body = admin.get(f"/v1/organization/usage/{report}",
                         params={"start_time": start, "end_time": end, "bucket_width": "1d", "limit": 31}).json()
        total += sum(r["num_model_requests"] for bucket in body["data"] for r in bucket["results"])
    return total


def test_sign_in_sets_a_signed_httponly_strict_secure_cookie(console_gateway):
    answer = console_gateway.sign_in()
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    assert name == "__Host-ag-console"
    attributes = {part.strip().split("=")[0].lower() for part in rest.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert re.search(r"samesite=strict", cookie, re.I) and re.search(r"path=/(;|$)", cookie, re.I)
    assert ADMIN[1] not in cookie                       # the key itself never goes into the cookie
    body = answer.json()
    assert body["key"] == ADMIN[0] and len(body["csrf_token"]) == 64


@pytest.mark.parametrize(("key", "status", "code"), [
    ("sk-gw-not-a-key", 401, "invalid_api_key"),
    (CLIENT_KEYS["alice"], 403, "admin_key_required"),
    ("", 401, "invalid_api_key"),
])
def test_a_wrong_or_non_admin_key_is_refused(console_gateway, key, status, code):
    answer = console_gateway.sign_in(key)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert "set-cookie" not in answer.headers


def test_the_api_needs_a_session_or_an_admin_bearer_key(console_gateway):
    import httpx

    url = console_gateway.url
    assert httpx.get(f"{url}/console/api/overview").status_code == 401
    assert httpx.get(f"{url}/console/api/overview", headers={"cookie": "__Host-ag-console=forged.abc"}).status_code == 401
    client_key = httpx.get(f"{url}/console/api/overview", headers={"Authorization": f"Bearer {CLIENT_KEYS['bob']}"})
    assert client_key.status_code == 403 and client_key.json()["error"]["code"] == "admin_key_required"
    with console_gateway.admin() as admin:
        assert admin.get("/console/api/overview").status_code == 200
    session, _ = console_gateway.session()
    with session:
        value = session.headers["cookie"].split("=", 1)[1]
        payload, signature = value.split(".")
        tampered = {"cookie": f"__Host-ag-console={payload[:-2]}xx.{signature}"}
        assert session.get("/console/api/overview").status_code == 200
        assert session.get("/console/api/overview", headers=tampered).status_code == 401


def test_a_mutation_without_the_csrf_token_is_refused(console_gateway):
    session, token = console_gateway.session()
    with session:
        missing = session.delete("/console/session")
        assert missing.status_code == 403 and missing.json()["error"]["code"] == "csrf_token_invalid"
        wrong = session.delete("/console/session", headers={"x-csrf-token": "0" * 64})
        assert wrong.status_code == 403
        other_site = session.delete("/console/session", headers={"x-csrf-token": token, "origin": "https://evil.example"})
        assert other_site.status_code == 403 and other_site.json()["error"]["code"] == "cross_origin"
        ok = session.delete("/console/session", headers={"x-csrf-token": token})
        assert ok.status_code == 200
        assert "max-age=0" in ok.headers["set-cookie"].lower()


def test_a_form_post_cannot_sign_a_browser_in(console_gateway):
    import httpx

    answer = httpx.post(f"{console_gateway.url}/console/session", data={"key": ADMIN[1]})
    assert answer.status_code == 400 and "set-cookie" not in answer.headers


def test_every_console_response_has_a_csp_without_inline_script(console_gateway):
    import httpx

    session, _ = console_gateway.session()
    with session:
        for path in ("/console", "/console/static/app.js", "/console/api/catalog"):
            answer = session.get(path)
            assert answer.status_code == 200, path
            csp = answer.headers["content-security-policy"]
            script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
            assert script_src.split() == ["script-src", "'self'"]
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert "frame-ancestors 'none'" in csp and answer.headers["x-content-type-options"] == "nosniff"
        shell = httpx.get(f"{console_gateway.url}/console").text
        # Every script is a file of this origin: no inline code for the CSP to have to allow.
        assert re.findall(r"<script\b[^>]*>", shell) == ['<script type="module" src="/console/static/app.js">']
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", shell) and "style=" not in shell   # no inline handlers or styles


def test_the_chart_library_is_vendored_with_its_licence(console_gateway):
    import hashlib

    import httpx

    base = f"{console_gateway.url}/console/static/vendor/uplot"
    library = httpx.get(f"{base}/uPlot.esm.js")
    assert library.status_code == 200 and "javascript" in library.headers["content-type"]
    assert "export { uPlot as default }" in library.text
    assert "MIT License" in httpx.get(f"{base}/LICENSE").text
    # Served byte for byte as npm's tarball has them (the digests recorded when it was vendored).
    recorded = dict(reversed(line.split()) for line in httpx.get(f"{base}/VERSION").text.splitlines()
                    if len(line.split()) == 2 and len(line.split()[0]) == 64)
    assert set(recorded) == {"uPlot.esm.js", "uPlot.min.css", "LICENSE"}
    for name, digest in recorded.items():
        assert hashlib.sha256(httpx.get(f"{base}/{name}").content).hexdigest() == digest, name


@pytest.mark.parametrize("range_name", ["hour", "day", "month"])
def test_overview_figures_equal_the_usage_and_costs_api(console_gateway, range_name):
    with console_gateway.admin() as admin:
        view = admin.get("/console/api/overview", params={"range": range_name}).json()
        start, end = view["start_time"], view["end_time"]
        costs = _costs(admin, start, end)
        assert Decimal(view["totals"]["cost_usd"]) == sum((Decimal(r["cost_usd"]) for r in costs), Decimal(0))
        assert view["totals"]["requests"] == _requests(admin, start, end)
        by_model = Counter()
        for result in _costs(admin, start, end, group_by="model"):
            by_model[result["model"]] += Decimal(result["cost_usd"])
        shown = {model: sum((Decimal(v) for v in values), Decimal(0)) for model, values in view["by_model"]["cost_usd"].items()}
        assert {m: c for m, c in shown.items() if c} == {m: c for m, c in by_model.items() if c}
        by_provider = Counter()
        for result in _costs(admin, start, end, group_by="provider"):
            by_provider[result["provider"] or "none"] += Decimal(result["cost_usd"])
        shown = {p: sum((Decimal(v) for v in values), Decimal(0)) for p, values in view["by_provider"]["cost_usd"].items()}
        assert shown == dict(by_provider)
    window = [r for r in console_gateway.rows if start <= r.created_at.timestamp() < end]
    assert view["totals"]["fallbacks"] == sum(r.fell_back for r in window)   # the real request did not fall back
    assert sum(sum(v) for v in view["by_model"]["fallbacks"].values()) == view["totals"]["fallbacks"]
    assert len(view["buckets"]) == {"hour": 60, "day": 24, "month": 30}[range_name]


def test_the_error_rate_counts_failed_rows_of_the_last_15_minutes(console_gateway):
    now = datetime.now(UTC)
    recent = [r for r in console_gateway.rows if r.created_at >= now - timedelta(minutes=15)]
    with console_gateway.admin() as admin:
        rate = admin.get("/console/api/overview", params={"range": "hour"}).json()["error_rate"]
    assert rate["errors"] == sum(r.status == "failed" for r in recent)
    assert rate["requests"] == len(recent) + 1          # and the real request
    assert rate["rate"] == rate["errors"] / rate["requests"]


def test_requests_are_filtered_by_key_model_and_status(console_gateway):
    seeded = console_gateway.rows
    with console_gateway.admin() as admin:
        bob = admin.get("/console/api/requests", params={"api_key_id": "bob", "limit": 200}).json()
        assert {r["api_key_id"] for r in bob["data"]} == {"bob"}
        assert sorted(r["id"] for r in bob["data"]) == sorted(r.id for r in seeded if r.api_key_id == "bob")
        failed = admin.get("/console/api/requests", params={"status": "failed"}).json()["data"]
        assert sorted(r["id"] for r in failed) == sorted(r.id for r in seeded if r.status == "failed")
        cosy = admin.get("/console/api/requests", params={"model": "alibaba/cosyvoice2-0.5b"}).json()["data"]
        assert sorted(r["id"] for r in cosy) == sorted(r.id for r in seeded if r.model_served == "alibaba/cosyvoice2-0.5b")
        first = admin.get("/console/api/requests", params={"limit": 5}).json()
        rest = admin.get("/console/api/requests", params={"limit": 200, "before": first["next"]}).json()
        ids = [r["id"] for r in first["data"] + rest["data"]]
        assert len(ids) == len(set(ids)) == len(seeded) + 1
        assert ids[0] == console_gateway.real_request_id      # newest first
        assert admin.get("/console/api/requests", params={"status": "exploded"}).status_code == 400
        assert admin.get("/console/api/requests", params={"before": "garbage"}).status_code == 400


def test_one_requests_attempts_by_request_id_are_the_ledger_row(console_gateway):
    with console_gateway.admin() as admin:
        request_id = console_gateway.real_request_id
        shown = admin.get(f"/console/api/requests/{request_id}").json()
        assert shown == admin.get(f"/v1/usage/requests/{request_id}").json()
        assert [a["provider"] for a in shown["attempt_outcomes"]] == ["openai"]
        missing = admin.get("/console/api/requests/no-such-request")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "request_not_found"


def test_providers_show_attempts_by_outcome_and_circuits(console_gateway):
    now = datetime.now(UTC)
    recent = [r for r in console_gateway.rows if r.created_at >= now - timedelta(hours=1)]
    expected: dict[str, Counter] = {}
    for row in recent:
        for attempt in row.attempt_outcomes:
            expected.setdefault(attempt.provider, Counter())[attempt.outcome] += 1
    expected["openai"]["ok"] += 1                              # the real request's one attempt
    with console_gateway.admin() as admin:
        view = admin.get("/console/api/providers").json()
        ready = admin.get("/readyz").json()
        real = admin.get(f"/v1/usage/requests/{console_gateway.real_request_id}").json()
    assert real["attempt_outcomes"][0]["outcome"] == "ok"
    by_name = {p["name"]: p for p in view["data"]}
    assert set(by_name) == set(ready["providers"])
    for name, provider in by_name.items():
        assert provider["configured"] == ready["providers"][name]["configured"]
        assert provider["circuit"]["state"] == ready["providers"][name]["circuit"]["state"]
        assert provider["attempts"] == dict(expected.get(name, {}))
    served_openai = [r for r in recent if r.provider == "openai"]
    assert by_name["openai"]["served"] == len(served_openai) + 1
    siliconflow_ttfb = sorted(r.ttfb_ms for r in recent if r.provider == "siliconflow")
    assert by_name["siliconflow"]["ttfb_ms"]["p95"] == siliconflow_ttfb[-1]


def test_catalog_shows_the_served_version_models_and_reload_state(console_gateway):
    with console_gateway.admin() as admin:
        view = admin.get("/console/api/catalog").json()
        models = admin.get("/v1/models").json()["data"]
        ready = admin.get("/readyz").json()
    assert view["version"] == ready["catalog"]["version"]
    assert view["models"] == models
    assert view["reload_error"] is None and view["reloadable"] is True
    assert all("api_key" not in p for p in view["providers"])
