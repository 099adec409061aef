"""The console in a real browser (Debian's chromium via Playwright): sign in, every page shows the API's
numbers, charts are drawn, wrong keys and missing CSRF tokens are refused, and nothing breaks the CSP."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ..conftest import CLIENT_KEYS
from .conftest import ADMIN

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# The first series' colours in charts.js: pixels of these are lines drawn, not axes or grid.
SERIES = [(0x25, 0x63, 0xEB), (0xDC, 0x26, 0x26), (0x16, 0xA3, 0x4A), (0xD9, 0x77, 0x06)]


@pytest.fixture(scope="package")
def signed_in(browser, console_gateway):
    """One browser context signed in through the form; tests open pages in it."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="Europe/Berlin")
    page = context.new_page()
    page.goto(f"{console_gateway.url}/console")
    page.fill("#login-key", ADMIN[1])
    page.click("#login-submit")
    page.wait_for_selector("body[data-ready=overview]")
    page.close()
    yield context
    context.close()


@pytest.fixture
def page(signed_in, console_gateway):
    tab = signed_in.new_page()
    tab.set_default_timeout(8000)
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.problems = problems                  # a test that provokes an error response removes what it expects
    elsewhere: list[str] = []                # the console works offline: it asks nothing of another origin
    tab.on("request", lambda r: None if r.url.startswith(console_gateway.url) else elsewhere.append(r.url))
    yield tab
    tab.close()
    assert problems == [], problems          # no CSP violation, no script error
    assert elsewhere == [], elsewhere


def _open(page, url: str, name: str):
    page.goto(f"{url}/console#/{name}")
    page.wait_for_selector(f"body[data-ready={name}]")
    return page


def _series_pixels(page, index: int = 0) -> int:
    """Pixels in a series colour on chart `index`'s canvas: it drew lines, not just axes."""
    return page.evaluate("""([index, colours]) => {
        const canvas = document.querySelectorAll('.chart canvas')[index];
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let hits = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3] > 200 && colours.some(([r, g, b]) => Math.abs(data[i] - r) < 12
              && Math.abs(data[i + 1] - g) < 12 && Math.abs(data[i + 2] - b) < 12)) hits++;
        }
        return hits;
    }""", [index, [list(c) for c in SERIES]])


def test_signing_in_with_a_wrong_or_client_key_is_refused(browser, console_gateway, artefacts):
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(f"{console_gateway.url}/console")
        refusals = []
        for key in ("sk-gw-wrong", CLIENT_KEYS["alice"]):
            page.fill("#login-key", key)
            page.click("#login-submit")
            page.wait_for_function("() => document.getElementById('login-error').textContent.length > 0")
            assert page.is_visible("#login") and page.is_hidden("#nav")
            refusals.append(page.text_content("#login-error"))
            page.evaluate("document.getElementById('login-error').textContent = ''")
        assert "not a key" in refusals[0] and "admin key" in refusals[1]
        page.screenshot(path=str(artefacts / "login-refused.png"))
        assert context.cookies() == []
    finally:
        context.close()


def test_the_session_cookie_is_httponly_and_strict(signed_in, page, console_gateway):
    cookies = {c["name"]: c for c in signed_in.cookies()}
    cookie = cookies["__Host-ag-console"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    _open(page, console_gateway.url, "overview")
    assert "ag-console" not in page.evaluate("document.cookie")     # scripts cannot read it


def test_overview_shows_the_apis_figures_and_draws_charts(page, console_gateway, artefacts):
    _open(page, console_gateway.url, "overview")
    for range_name in ("day", "hour", "month"):
        page.click(f".toggle button[data-value={range_name}]")
        page.wait_for_selector(f".toggle button.on[data-value={range_name}]")
        page.wait_for_selector("body[data-ready=overview]")
        api = page.evaluate("r => fetch('/console/api/overview?range=' + r).then(x => x.json())", range_name)
        assert page.get_attribute("#total-requests .value", "data-value") == str(api["totals"]["requests"])
        assert page.get_attribute("#total-cost .value", "data-value") == api["totals"]["cost_usd"]
        assert page.get_attribute("#total-fallbacks .value", "data-value") == str(api["totals"]["fallbacks"])
        shown = page.text_content("#total-cost .value")
        assert shown.startswith("$") and Decimal(shown[1:].replace(",", "")) == Decimal(api["totals"]["cost_usd"])
        assert page.text_content("#total-requests .value") == f"{api['totals']['requests']:,}"
        page.wait_for_function("() => document.querySelectorAll('.chart canvas').length === 3")
        page.wait_for_timeout(50)
        assert _series_pixels(page, 0) > 50, f"the requests chart drew no series ({range_name})"
        page.screenshot(path=str(artefacts / f"overview-{range_name}.png"), full_page=True)
    page.click(".toggle button[data-value=provider]")
    page.wait_for_selector(".toggle button.on[data-value=provider]")
    page.wait_for_selector("body[data-ready=overview]")
    page.wait_for_function("() => document.querySelectorAll('.chart canvas').length === 3")
    legend = page.eval_on_selector_all(".chart:first-child .u-legend .u-series th", "els => els.map(e => e.textContent)")
    assert any("openai" in label for label in legend) and any("siliconflow" in label for label in legend)


def test_providers_page_shows_circuits_and_attempts(page, console_gateway, artefacts):
    _open(page, console_gateway.url, "providers")
    api = page.evaluate("fetch('/console/api/providers').then(x => x.json())")
    for provider in api["data"]:
        row = f"tr[data-provider='{provider['name']}']"
        assert page.get_attribute(f"{row} td[data-field=served] span", "data-value") == str(provider["served"])
        chips = page.eval_on_selector_all(f"{row} [data-outcome]", "els => Object.fromEntries(els.map(e => [e.dataset.outcome, +e.dataset.value]))")
        assert chips == provider["attempts"]
        assert provider["circuit"]["state"].replace("_", "-") in page.text_content(f"{row} td[data-field=circuit]")
        configured = page.text_content(f"{row} td[data-field=configured]")
        assert configured.startswith("yes" if provider["configured"] else "no")
        assert (provider["reason"] or "") in configured
    page.screenshot(path=str(artefacts / "providers.png"), full_page=True)


def test_requests_page_filters_and_shows_a_requests_attempts(page, console_gateway, artefacts):
    _open(page, console_gateway.url, "requests")
    listed = page.eval_on_selector_all("#request-rows tr[data-request-id]", "els => els.map(e => e.dataset.requestId)")
    api = page.evaluate("fetch('/console/api/requests').then(x => x.json())")
    assert listed == [r["id"] for r in api["data"]]
    page.select_option("#filter-api_key_id", "bob")
    page.wait_for_selector("body[data-ready=requests]")
    keys = page.eval_on_selector_all("#request-rows td[data-field=api_key_id]", "els => els.map(e => e.textContent)")
    assert set(keys) == {"bob"}
    bob = sorted(page.eval_on_selector_all("#request-rows tr[data-request-id]", "els => els.map(e => e.dataset.requestId)"))
    assert bob == sorted(r.id for r in console_gateway.rows if r.api_key_id == "bob")
    page.select_option("#filter-api_key_id", "")
    page.wait_for_selector("body[data-ready=requests]")
    request_id = console_gateway.real_request_id
    page.fill("#request-id", request_id)
    page.click("#lookup button[type=submit]")
    page.wait_for_selector(f"#request-detail[data-request-id='{request_id}']")
    row = page.evaluate("id => fetch('/console/api/requests/' + id).then(x => x.json())", request_id)
    attempts = page.eval_on_selector_all("#request-detail tr[data-attempt] td[data-field=provider]", "els => els.map(e => e.textContent)")
    assert attempts == [a["provider"] for a in row["attempt_outcomes"]]
    assert page.get_attribute("#detail-cost", "data-value") == row["cost_usd"]
    # Times in the browser's zone (the context runs in Europe/Berlin), as en-US medium date and time.
    local = datetime.fromtimestamp(row["created_at"], ZoneInfo("Europe/Berlin"))
    expected = (f"{local:%b} {local.day}, {local.year}, {local.hour % 12 or 12}:{local:%M:%S} "
                f"{'AM' if local.hour < 12 else 'PM'}")
    shown = page.text_content("#request-detail dl.facts dd")
    assert shown.replace("\u202f", " ").replace("\xa0", " ") == expected
    page.screenshot(path=str(artefacts / "requests.png"), full_page=True)
    page.fill("#request-id", "no-such-request")
    page.click("#lookup button[type=submit]")
    page.wait_for_selector("#request-missing")
    assert page.problems == ["Failed to load resource: the server responded with a status of 404 (Not Found)"]
    page.problems.clear()


def test_catalog_page_shows_models_prices_and_version(page, console_gateway, artefacts):
    _open(page, console_gateway.url, "catalog")
    api = page.evaluate("fetch('/console/api/catalog').then(x => x.json())")
    assert page.text_content("#catalog-version") == api["version"]
    shown = page.eval_on_selector_all("tr[data-model]", "els => els.map(e => e.dataset.model)")
    assert shown == [m["id"] for m in api["models"]]
    tts = next(m for m in api["models"] if m["id"] == "openai/tts-1")
    prices = page.eval_on_selector_all("tr[data-model='openai/tts-1'] [data-price]", "els => els.map(e => e.dataset.price)")
    assert prices == [p["price_usd"] for p in tts["pricing"]]
    assert "alibaba/cosyvoice2-0.5b" in page.text_content("tr[data-model='openai/tts-1'] td[data-field=routing]")
    assert page.text_content("#reload-status") == "ok"
    page.screenshot(path=str(artefacts / "catalog.png"), full_page=True)


def test_a_mutation_without_the_csrf_token_is_refused_in_the_browser(page, console_gateway):
    _open(page, console_gateway.url, "overview")
    status = page.evaluate("fetch('/console/session', {method: 'DELETE'}).then(r => r.status)")
    assert status == 403
    assert [p for p in page.problems if "403" not in p] == []
    page.problems.clear()
    assert page.evaluate("fetch('/console/api/session').then(r => r.status)") == 200   # still signed in


def test_pages_fit_a_phone(signed_in, console_gateway, artefacts):
    tab = signed_in.new_page()
    tab.set_viewport_size(PHONE)
    try:
        for name in ("overview", "providers", "keys", "requests", "catalog"):
            _open(tab, console_gateway.url, name)
            if name == "overview":
                tab.wait_for_function("() => document.querySelectorAll('.chart canvas').length === 3")
            overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} is {overflow}px wider than a phone"
            tab.screenshot(path=str(artefacts / f"phone-{name}.png"), full_page=True)
    finally:
        tab.close()


def test_signing_out_ends_the_session(browser, console_gateway):
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(f"{console_gateway.url}/console")
        page.fill("#login-key", ADMIN[1])
        page.click("#login-submit")
        page.wait_for_selector("body[data-ready=overview]")
        page.click("#sign-out")
        page.wait_for_selector("#login:not([hidden])")
        assert context.cookies() == []
        assert page.evaluate("fetch('/console/api/overview').then(r => r.status)") == 401
    finally:
        context.close()


def test_keys_page_creates_and_revokes_a_key_with_a_budget(page, console_gateway, artefacts):
    _open(page, console_gateway.url, "keys")
    environment = page.eval_on_selector_all("tr[data-env-key]", "els => els.map(e => e.dataset.envKey)")
    assert environment == sorted(["alice", "bob", ADMIN[0]])
    page.fill("#key-name", "browser-team")
    page.fill("#key-budget_usd", "12.345")
    page.select_option("#key-budget_period", "week")
    page.fill("#key-rpm", "60")
    page.select_option("#key-models", ["openai/tts-1", "openai/whisper-1"])
    page.click("#key-create")
    page.wait_for_selector("#key-created")
    secret = page.text_content("#new-secret")
    assert secret.startswith("sk-gw-")
    with console_gateway.admin() as admin:
        key = next(k for k in admin.get("/v1/gateway/keys").json()["data"] if k["name"] == "browser-team")
    assert key["budget_usd"] == "12.345" and key["budget_period"] == "week" and key["rpm"] == 60
    assert sorted(key["models"]) == ["openai/tts-1", "openai/whisper-1"]
    row = "tr[data-key='browser-team']"
    assert page.get_attribute(f"{row} [data-budget]", "data-budget") == "12.345"
    assert page.get_attribute(f"{row} [data-budget]", "data-spend") == key["spend_usd"]
    assert page.text_content(f"{row} [data-budget]") == "$0.00 of $12.345"
    assert "60 requests/min" in page.text_content(f"{row} td[data-field=limits]")
    page.screenshot(path=str(artefacts / "keys.png"), full_page=True)
    page.click(f"{row} details summary")
    edit = "form[data-edit='browser-team']"
    page.fill(f"{edit} input[name=budget_usd]", "20")
    page.fill(f"{edit} input[name=rpm]", "")
    page.click(f"{edit} button[type=submit]")
    page.wait_for_selector(f"{row} [data-budget='20']")
    with console_gateway.admin() as admin:
        key = next(k for k in admin.get("/v1/gateway/keys").json()["data"] if k["name"] == "browser-team")
    assert key["budget_usd"] == "20" and key["budget_period"] == "week" and key["rpm"] is None
    assert "no rate limit" in page.text_content(f"{row} td[data-field=limits]")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(f"{row} button[data-revoke]")
    page.wait_for_selector(row, state="detached")
    with console_gateway.admin() as admin:
        assert "browser-team" not in {k["name"] for k in admin.get("/v1/gateway/keys").json()["data"]}
    page.fill("#key-name", "bad period")
    page.click("#key-create")
    page.wait_for_selector("#key-error")
    assert "`name`" in page.text_content("#key-error")
    assert page.problems == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.problems.clear()


def test_catalog_page_shows_a_refused_reload(page, console_gateway, artefacts):
    tts = console_gateway.catalog / "models" / "tts.yaml"
    original = tts.read_text()
    try:
        tts.write_text(original.replace("price_usd:", "price_usd: -", 1))
        assert console_gateway.server.reload() is False
        with console_gateway.admin() as admin:
            failure = admin.get("/console/api/catalog").json()["reload_error"]
            ready = admin.get("/readyz").json()["catalog"]["reload_error"]
        assert failure["problems"] == ready["problems"] and failure["problems"]
        _open(page, console_gateway.url, "catalog")
        assert page.text_content("#reload-status") == "refused"
        shown = page.eval_on_selector_all("#reload-error li", "els => els.map(e => e.textContent)")
        assert shown == failure["problems"]
        page.screenshot(path=str(artefacts / "catalog-reload-refused.png"))
    finally:
        tts.write_text(original)
        assert console_gateway.server.reload() is True
