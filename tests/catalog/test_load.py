"""Catalog loading: the shipped catalog compiles as the product table says; bad ones list every problem."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from audio_gateway.catalog import CatalogInvalid, ProviderOverrides, SttModel, TtsModel, load_plan
from audio_gateway.catalog.problems import format_path
from audio_gateway.providers import ADAPTERS, unavailable_reason

from ..support.server_thread import CATALOG_DIR, REPO

INVALID = Path(__file__).resolve().parents[1] / "fixtures" / "catalogs" / "invalid"
SCHEMA = REPO / "schema" / "catalog.schema.json"


def load(directory: Path, env: dict[str, str] | None = None, **kwargs):
    return load_plan(directory, env or {}, ADAPTERS.keys(), schema_path=SCHEMA, **kwargs)


TTS_LAST, STT_LAST = "local/espeak-ng", "local/whisper-tiny"   # the $0 last resort of every chain
PRODUCT_TABLE = [
    # id, kind, provider, upstream, billing [(unit, price, per)], fallbacks
    ("openai/tts-1", "tts", "openai", "tts-1", [("character", "15", 1_000_000)], ["alibaba/cosyvoice2-0.5b", TTS_LAST]),
    ("openai/tts-1-hd", "tts", "openai", "tts-1-hd", [("character", "30", 1_000_000)], [TTS_LAST]),
    ("openai/gpt-4o-mini-tts", "tts", "openai", "gpt-4o-mini-tts",
     [("input_token", "0.60", 1_000_000), ("output_token", "12", 1_000_000), ("request", "0", 1)], [TTS_LAST]),
    ("alibaba/cosyvoice2-0.5b", "tts", "siliconflow", "FunAudioLLM/CosyVoice2-0.5B", [("utf8_byte", "7.15", 1_000_000)], [TTS_LAST]),
    ("fishaudio/fish-speech-1.5", "tts", "siliconflow", "fishaudio/fish-speech-1.5", [("utf8_byte", "7.15", 1_000_000)], [TTS_LAST]),
    ("indexteam/indextts-2", "tts", "siliconflow", "IndexTeam/IndexTTS-2", [("utf8_byte", "7.15", 1_000_000)], [TTS_LAST]),
    ("local/espeak-ng", "tts", "local", "espeak-ng", [("character", "0", 1)], []),
    ("openai/whisper-1", "stt", "openai", "whisper-1", [("second", "0.006", 60)], ["alibaba/sensevoice-small", STT_LAST]),
    ("alibaba/sensevoice-small", "stt", "siliconflow", "FunAudioLLM/SenseVoiceSmall", [("second", "0.006", 60)], [STT_LAST]),
    ("local/whisper-tiny", "stt", "local", "whisper", [("second", "0", 60)], []),
    ("openai/gpt-4o-transcribe", "stt", "openai", "gpt-4o-transcribe",
     [("audio_input_token", "6", 1_000_000), ("input_token", "2.5", 1_000_000), ("output_token", "10", 1_000_000)],
     ["openai/whisper-1", "alibaba/sensevoice-small", STT_LAST]),
    ("openai/gpt-4o-mini-transcribe", "stt", "openai", "gpt-4o-mini-transcribe",
     [("audio_input_token", "3", 1_000_000), ("input_token", "1.25", 1_000_000), ("output_token", "5", 1_000_000)],
     ["openai/whisper-1", "alibaba/sensevoice-small", STT_LAST]),
    ("openai/gpt-4o-transcribe-diarize", "stt", "openai", "gpt-4o-transcribe-diarize",
     [("audio_input_token", "6", 1_000_000), ("input_token", "2.5", 1_000_000), ("output_token", "10", 1_000_000)],
     ["openai/whisper-1", "alibaba/sensevoice-small", STT_LAST]),
]


@pytest.mark.parametrize("model_id, kind, provider, upstream, billing, fallbacks", PRODUCT_TABLE)
def test_shipped_catalog_matches_product_table(model_id, kind, provider, upstream, billing, fallbacks):
    plan = load(CATALOG_DIR)
    route = plan.routes[model_id]
    assert (route.model.kind, route.model.provider, route.model.upstream_model) == (kind, provider, upstream)
    assert [(c.unit, c.price_usd, c.per) for c in route.model.billing] == [(u, Decimal(p), per) for u, p, per in billing]
    # The chain starts as the product table says; an operator may add later fallbacks (a local last resort).
    assert [t.model.id for t in route.targets][: len(fallbacks) + 1] == [model_id, *fallbacks]


def test_switching_the_local_provider_off_restores_the_cloud_only_chains():
    plan = load(CATALOG_DIR, {"AUDIO_GATEWAY_LOCAL": "off"})
    assert "local" not in plan.providers
    # Every product model but the local ones stays (virtual models such as `gateway/auto` are not in the table).
    assert {row[0] for row in PRODUCT_TABLE if row[2] != "local"} <= set(plan.routes)
    assert not {row[0] for row in PRODUCT_TABLE if row[2] == "local"} & set(plan.routes)
    for model_id, *_, fallbacks in PRODUCT_TABLE:
        if model_id in plan.routes:
            assert [t.model.id for t in plan.routes[model_id].targets] == \
                [model_id, *(f for f in fallbacks if f not in (TTS_LAST, STT_LAST))]


def test_local_provider_needs_no_key_and_is_unavailable_when_its_engines_are_missing():
    plan = load(CATALOG_DIR)
    local = plan.providers["local"]
    assert local.configured and unavailable_reason(local) is None   # the [local] extra is installed here
    missing = msgspec.structs.replace(local, local=msgspec.structs.replace(local.local, whisper_model_dir="/no/model"))
    assert "/no/model" in (unavailable_reason(missing) or "")
    assert plan.routes["openai/tts-1"].targets[-1].provider.name == "local"
    assert unavailable_reason(plan.providers["openai"]) == "no API key configured"


def test_shipped_catalog_keeps_the_product_models_and_openai_aliases():
    """What a catalog edit must not break: the product's models stay, and OpenAI's bare names resolve.
    Adding models (new providers, virtual models) is allowed."""
    plan = load(CATALOG_DIR)
    assert {row[0] for row in PRODUCT_TABLE} <= set(plan.routes)
    for route in plan.routes.values():  # every chain stays within one kind
        assert {t.model.kind for t in route.targets} == {route.model.kind}
    for alias in ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe",
                  "gpt-4o-transcribe-diarize"):
        assert plan.resolve(alias).model.id == f"openai/{alias}"
    assert plan.resolve("nope") is None


def test_every_model_accepts_the_six_classic_openai_voices():
    plan = load(CATALOG_DIR)
    for route in plan.routes.values():
        if isinstance(route.model, TtsModel):
            voice_set = plan.voice_sets[route.model.voices]
            for voice in ("alloy", "echo", "fable", "onyx", "nova", "shimmer"):
                assert voice in voice_set.voices or voice in voice_set.map, (route.model.id, voice)


def test_provider_urls_and_keys_come_from_the_environment():
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "OPENAI_API_KEY": "sk-x", "SILICONFLOW_API_KEY": ""}
    plan = load(CATALOG_DIR, env)
    assert plan.providers["openai"].base_url == "http://127.0.0.1:1/v1"
    assert plan.providers["openai"].configured
    assert plan.providers["siliconflow"].base_url == "https://api.siliconflow.cn/v1"
    assert not plan.providers["siliconflow"].configured
    assert "sk-x" not in repr(plan.providers["openai"])


def test_upstream_timeout_overrides_every_provider():
    plan = load(CATALOG_DIR, overrides=ProviderOverrides(upstream_timeout=0.25))
    for provider in plan.providers.values():
        t = provider.timeouts
        assert (t.connect_seconds, t.first_byte_seconds, t.read_seconds) == (0.25, 0.25, 0.25)


def test_circuit_breaker_defaults_catalog_values_and_overrides():
    plan = load(CATALOG_DIR)
    assert {(p.circuit_breaker.failure_threshold, p.circuit_breaker.cooldown_seconds)
            for p in plan.providers.values()} == {(3, 30.0)}
    one = load(CATALOG_DIR, overrides=ProviderOverrides(breaker_cooldown=0.5))
    assert {(p.circuit_breaker.failure_threshold, p.circuit_breaker.cooldown_seconds)
            for p in one.providers.values()} == {(3, 0.5)}
    both = load(CATALOG_DIR, overrides=ProviderOverrides(breaker_threshold=100, breaker_cooldown=2))
    assert {p.circuit_breaker.failure_threshold for p in both.providers.values()} == {100}


def test_plan_is_immutable():
    plan = load(CATALOG_DIR)
    with pytest.raises(TypeError):
        plan.routes["x"] = plan.routes["openai/tts-1"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        plan.routes["openai/tts-1"].model.id = "y"  # type: ignore[misc]


def test_token_billed_stt_models_estimate_what_only_openai_reports():
    """Units only the provider reports fall back on probed seconds (10 audio, 4 output tokens a second)."""
    for model_id in ("openai/gpt-4o-transcribe", "openai/gpt-4o-mini-transcribe", "openai/gpt-4o-transcribe-diarize"):
        billing = {c.unit: c for c in load(CATALOG_DIR).routes[model_id].model.billing}
        assert (billing["audio_input_token"].estimate.from_, billing["audio_input_token"].estimate.ratio) == ("second", 10)
        assert (billing["output_token"].estimate.from_, billing["output_token"].estimate.ratio) == ("second", 4)
        assert billing["input_token"].estimate is None and billing["input_token"].tokenizer == "o200k_base"


def test_minute_billing_compiles_to_seconds_with_rounding():
    model = load(CATALOG_DIR).routes["openai/whisper-1"].model
    assert isinstance(model, SttModel)
    (component,) = model.billing
    assert (component.unit, component.per, component.rounding, component.round_to_seconds) == ("second", 60, "up", 1)


def _expectation(path: Path) -> tuple[str, str]:
    first = path.read_text().splitlines()[0]
    json_path, _, message = first.removeprefix("# expect:").partition("|")
    return json_path.strip(), message.strip()


@pytest.mark.parametrize("fixture", sorted(INVALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_catalog_reports_path_line_and_sentence(fixture: Path, tmp_path: Path):
    json_path, message = _expectation(fixture)
    directory = tmp_path / "catalog"
    directory.mkdir()
    shutil.copy(fixture, directory / "catalog.yaml")
    with pytest.raises(CatalogInvalid) as caught:
        load(directory)
    matching = [p for p in caught.value.problems if format_path(p.path) == json_path and message in p.message]
    assert matching, f"expected {json_path}: {message!r}, got:\n" + "\n".join(map(str, caught.value.problems))
    problem = matching[0]
    assert problem.file == "catalog/catalog.yaml"
    assert problem.line is not None and problem.line >= 2


def test_problem_line_points_at_the_offending_key(tmp_path: Path):
    directory = tmp_path / "catalog"
    directory.mkdir()
    shutil.copy(INVALID / "missing_provider.yaml", directory / "c.yaml")
    with pytest.raises(CatalogInvalid) as caught:
        load(directory)
    (problem,) = caught.value.problems
    lines = (directory / "c.yaml").read_text().splitlines()
    assert lines[problem.line - 1].strip() == "provider: ghost"
    assert str(problem).startswith(f"catalog/c.yaml:{problem.line}: at $.models[0].provider:")


def test_all_problems_are_listed_at_once(tmp_path: Path):
    directory = tmp_path / "catalog"
    directory.mkdir()
    for name in ("missing_provider.yaml", "missing_voice_set.yaml"):
        text = (INVALID / name).read_text().replace("id: m1", f"id: {name[:-5]}")
        text = text.replace("  p:\n", f"  p{name[:3]}:\n").replace("  vs:\n", f"  vs{name[:3]}:\n")
        (directory / name).write_text(text)
    with pytest.raises(CatalogInvalid) as caught:
        load(directory)
    messages = " ".join(p.message for p in caught.value.problems)
    assert "provider 'ghost' is not defined" in messages and "voice set 'nobody' is not defined" in messages


def test_duplicate_model_across_files_names_both_files(tmp_path: Path):
    directory = tmp_path / "catalog"
    directory.mkdir()
    shutil.copytree(CATALOG_DIR, directory, dirs_exist_ok=True)
    (directory / "extra.yaml").write_text((CATALOG_DIR / "models" / "tts.yaml").read_text())
    with pytest.raises(CatalogInvalid) as caught:
        load(directory)
    duplicates = [p for p in caught.value.problems if "already defined in catalog/extra.yaml" in p.message]
    assert duplicates and all(p.file == "catalog/models/tts.yaml" for p in duplicates)


def test_empty_or_missing_directory_is_a_problem_not_a_crash(tmp_path: Path):
    with pytest.raises(CatalogInvalid, match="does not exist"):
        load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CatalogInvalid, match="no \\*.yaml files"):
        load(tmp_path / "empty")


def test_a_disabled_provider_also_leaves_routing_rules_and_targets(tmp_path):
    catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    (catalog / "models" / "local_routes.yaml").write_text("""
models:
  - id: gateway/offline-first
    kind: tts
    routing:
      content:
        - {cjk_at_least: 0.3, use: local/espeak-ng}
      policy: weighted
      weights: {local/espeak-ng: 1, openai/tts-1: 3}
""")
    on = load(catalog)
    assert "local/espeak-ng" in {t.model.id for t in on.routes["gateway/offline-first"].targets}
    off = load(catalog, {"AUDIO_GATEWAY_LOCAL": "off"})
    assert {t.model.id for t in off.routes["gateway/offline-first"].targets} >= {"openai/tts-1"}
    assert "local/espeak-ng" not in {t.model.id for t in off.routes["gateway/offline-first"].targets}
