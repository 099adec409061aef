"""The `audio-gateway` command: catalog check/show and the serve safety checks."""

from __future__ import annotations

import shutil
import subprocess
import sys

from .support.server_thread import CATALOG_DIR, REPO

INVALID = REPO / "tests" / "fixtures" / "catalogs" / "invalid"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audio_gateway.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=60)


def test_shipped_catalog_passes_check():
    result = run_cli("catalog", "check", str(CATALOG_DIR))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "catalog OK: 15 models (8 tts, 7 stt), 3 providers, 3 voice sets, 9 aliases"


def test_local_provider_switched_off_leaves_the_cloud_catalog():
    """AUDIO_GATEWAY_LOCAL=off drops the provider, its two models and every fallback to them."""
    result = run_cli("catalog", "check", str(CATALOG_DIR), env={"AUDIO_GATEWAY_LOCAL": "off"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "catalog OK: 13 models (7 tts, 6 stt), 2 providers, 3 voice sets, 9 aliases"
    shown = run_cli("catalog", "show", env={"AUDIO_GATEWAY_LOCAL": "off"}).stdout
    assert "local" not in shown


def test_catalog_show_table(snapshot):
    result = run_cli("catalog", "show")
    assert result.returncode == 0, result.stderr
    assert result.stdout == snapshot


def test_bad_catalog_lists_every_error_and_exits_1(tmp_path):
    directory = tmp_path / "catalog"
    directory.mkdir()
    shutil.copy(INVALID / "unknown_key.yaml", directory / "a.yaml")
    shutil.copy(INVALID / "negative_price.yaml", directory / "b.yaml")
    (directory / "b.yaml").write_text((directory / "b.yaml").read_text().replace("  p:", "  p2:").replace("  vs:", "  vs2:")
                                      .replace("id: m1", "id: m9"))
    result = run_cli("catalog", "check", str(directory))
    assert result.returncode == 1
    assert "catalog/a.yaml:" in result.stderr and "unknown key(s) ('colour' was unexpected)" in result.stderr
    assert "catalog/b.yaml:" in result.stderr and "$.models[0].billing[0].price_usd" in result.stderr


def test_a_bad_routing_policy_is_explained_with_file_line_and_path(tmp_path):
    """The shipped catalog plus one routed model with two mistakes: each is listed where it was made."""
    directory = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, directory)
    (directory / "routed.yaml").write_text(
        "models:\n"
        "  - id: acme/auto\n"
        "    kind: tts\n"
        "    routing:\n"
        "      content:\n"
        "        - {cjk_at_least: 0.3, use: alibaba/sensevoice-small}\n"
        "      policy: weighted\n"
        "      weights: {openai/tts-1: 3, acme/missing: 1}\n")
    result = run_cli("catalog", "check", str(directory))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert "  catalog/routed.yaml:6: at $.models[0].routing.content[0].use: routing target 'alibaba/sensevoice-small' " \
           "is stt, not tts" in lines
    assert "  catalog/routed.yaml:8: at $.models[0].routing.weights.acme/missing: routing target 'acme/missing' " \
           "is not defined" in lines


def test_serve_refuses_a_public_bind_without_client_keys():
    result = run_cli("serve", "--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2
    assert "AUDIO_GATEWAY_API_KEYS" in result.stderr


def test_bad_setting_is_a_clear_message():
    result = run_cli("catalog", "check", env={"AUDIO_GATEWAY_UPSTREAM_TIMEOUT": "soon"})
    assert result.returncode == 2
    assert "AUDIO_GATEWAY_UPSTREAM_TIMEOUT must be a number" in result.stderr
