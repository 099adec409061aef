"""The Whisper language table and the script heuristic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio_gateway.audio.languages import LANGUAGES, guess_language, language_code, language_name


def test_table_is_whispers() -> None:
    assert len(LANGUAGES) == 100  # Whisper's 99 plus "yue" (large-v3)
    assert list(LANGUAGES)[:8] == ["en", "zh", "de", "es", "ru", "ko", "fr", "ja"]
    assert LANGUAGES["ht"] == "haitian creole"
    assert LANGUAGES["jw"] == "javanese"
    assert all(name == name.lower() for name in LANGUAGES.values())
    assert len(set(LANGUAGES.values())) == len(LANGUAGES)


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_round_trip(code: str) -> None:
    name = language_name(code)
    assert name == LANGUAGES[code]
    assert language_code(name) == code
    assert language_code(code) == code


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("English", "en"),
        ("ENGLISH", "en"),
        (" en ", "en"),
        ("en-US", "en"),
        ("pt_BR", "pt"),
        ("zh-Hans-CN", "zh"),
        ("mandarin", "zh"),
        ("castilian", "es"),
        ("haitian creole", "ht"),
        ("jv", "jw"),
        ("iw", "he"),
        ("nb", "no"),
        ("yue", "yue"),
        ("cantonese", "yue"),
        ("xx", None),
        ("klingon", None),
        ("", None),
        (None, None),
    ],
)
def test_language_code(given: str | None, code: str | None) -> None:
    assert language_code(given) == code


def test_language_name_unknown() -> None:
    assert language_name("xx") is None
    assert language_name(None) is None
    assert language_name("EN") == "english"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hello world", "en"),
        ("Ça va très bien", "en"),  # Latin script: the heuristic cannot tell French from English
        ("你好，世界。", "zh"),
        ("我用iPhone拍照", "zh"),
        ("こんにちは", "ja"),
        ("日本語のテキスト", "ja"),
        ("東京タワー", "ja"),
        ("안녕하세요", "ko"),
        ("Привет, мир", "ru"),
        ("مرحبا بالعالم", "ar"),
        ("שלום עולם", "he"),
        ("Γειά σου κόσμε", "el"),
        ("สวัสดีครับ", "th"),
        ("नमस्ते दुनिया", "hi"),
        ("12345 !?", None),
        ("", None),
        ("🎵🎵", None),
    ],
)
def test_guess_language(text: str, code: str | None) -> None:
    assert guess_language(text) == code


@given(st.text())
def test_guess_language_is_total(text: str) -> None:
    guessed = guess_language(text)
    assert guessed is None or guessed in LANGUAGES
