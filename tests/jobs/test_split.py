"""``split_text``: natural cut points, hard limits, and no lost or reordered text."""

from __future__ import annotations

import re
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio_gateway.jobs.split import split_text

_WS = re.compile(r"\s+")


def assert_slices(text: str, pieces: list[str], max_chars: int) -> None:
    """Pieces are non-empty, stripped, within the limit, and consecutive slices of ``text`` with only
    whitespace between and around them."""
    pos = 0
    for piece in pieces:
        assert piece, pieces
        assert piece == piece.strip(), piece
        assert len(piece) <= max_chars, (len(piece), piece)
        start = pos
        while start < len(text) and text[start].isspace():
            start += 1
        assert text.startswith(piece, start), (text[start : start + len(piece)], piece)
        pos = start + len(piece)
    assert not text[pos:] or text[pos:].isspace()
    assert _WS.sub("", "".join(pieces)) == _WS.sub("", text)


def assert_latin_cuts_clean(text: str, pieces: list[str]) -> None:
    """Every cut falls on whitespace: no word is split, so the words come back exactly."""
    assert " ".join(pieces).split() == text.split()


ENGLISH = (
    "The gateway speaks OpenAI's API. It routes speech to two providers!\n\n"
    "Long inputs are split into pieces, each small enough for one request. Is that audible? "
    "Hardly, when the cuts fall between sentences.\n"
    "A final line without a full stop"
)


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        pytest.param("Hello world.", 100, ["Hello world."], id="fits"),
        pytest.param("  \n\t padded  \n", 100, ["padded"], id="fits-stripped"),
        pytest.param(
            "One two three. Four five six seven eight nine ten.",
            30,
            ["One two three.", "Four five six seven eight nine", "ten."],
            id="sentence-then-whitespace",
        ),
        pytest.param(
            ENGLISH,
            80,
            [
                "The gateway speaks OpenAI's API. It routes speech to two providers!",
                "Long inputs are split into pieces, each small enough for one request.",
                "Is that audible? Hardly, when the cuts fall between sentences.",
                "A final line without a full stop",
            ],
            id="english-paragraphs",
        ),
        pytest.param(
            "First line without stop\nsecond line, also without one", 40,
            ["First line without stop", "second line, also without one"],
            id="newline-is-a-sentence-break",
        ),
        pytest.param(
            "We came, we saw, and then we conquered the whole wide world",
            30,
            ["We came, we saw,", "and then we conquered the", "whole wide world"],
            id="clause-then-whitespace",
        ),
        pytest.param(
            'He said "Stop." Then he left. Nobody followed him.',
            24,
            ['He said "Stop."', "Then he left.", "Nobody followed him."],
            id="closing-quote-stays",
        ),
        pytest.param(
            "Pi is 3.14159 and example.com is a site, sure",
            20,
            ["Pi is 3.14159 and", "example.com is a", "site, sure"],
            id="no-cut-inside-number-or-domain",
        ),
        pytest.param(
            "今天天气很好。我们去公园散步吧！你觉得怎么样？好的。",
            10,
            ["今天天气很好。", "我们去公园散步吧！", "你觉得怎么样？好的。"],
            id="cjk-sentences",
        ),
        pytest.param(
            "他说，今天天气很好，我们去公园散步吧",
            8,
            ["他说，", "今天天气很好，", "我们去公园散步吧"],
            id="cjk-clauses",
        ),
        pytest.param(
            "一二三四五六七八九十一二三四五六七八九十一二三",
            10,
            ["一二三四五六七八九十", "一二三四五六七八九十", "一二三"],
            id="cjk-no-punctuation",
        ),
        pytest.param(
            "这是一个很长很长的句子。第二句",
            10,
            ["这是一个很长很长的句", "子。第二句"],
            id="cjk-kinsoku-no-orphan-full-stop",
        ),
        pytest.param(
            "我喜欢用Python写代码。It is fun, 对吧？当然！",
            12,
            ["我喜欢用Python写代", "码。", "It is fun,", "对吧？当然！"],
            id="mixed-cjk-latin",
        ),
        pytest.param(
            "Das kostet 10\u00a0km und 20\u00a0kg insgesamt",
            16,
            ["Das kostet 10\u00a0km", "und 20\u00a0kg", "insgesamt"],
            id="no-break-space-holds",
        ),
    ],
)
def test_split_table(text: str, max_chars: int, expected: list[str]) -> None:
    pieces = split_text(text, max_chars)
    assert pieces == expected
    assert_slices(text, pieces, max_chars)


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \u3000", "\u2028"])
def test_empty_or_whitespace_gives_no_pieces(text: str) -> None:
    assert split_text(text, 10) == []


@pytest.mark.parametrize("bad", [0, -1])
def test_max_chars_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError):
        split_text("hello", bad)


def test_giant_word_is_hard_cut() -> None:
    url = "https://example.com/" + "a" * 9980  # 10,000 characters, no break anywhere
    text = f"Open {url} now. Then stop."
    pieces = split_text(text, 4096)
    # The URL cannot fit, so it alone is cut at the limit; the words around it stay whole.
    assert pieces == ["Open", url[:4096], url[4096:8192], url[8192:] + " now. Then stop."]
    assert_slices(text, pieces, 4096)


def test_latin_limits_respected_and_no_word_split() -> None:
    words = ["alpha", "beta,", "gamma;", "delta.", "epsilon!", "zeta:", "eta", "theta?", "iota"] * 300
    text = " ".join(words)
    for limit in (8, 13, 50, 333, 4096):
        pieces = split_text(text, limit)
        assert_slices(text, pieces, limit)
        assert_latin_cuts_clean(text, pieces)


def test_sentence_cut_preferred_over_longer_piece() -> None:
    text = "Short one. " + "word " * 30
    pieces = split_text(text, 60)
    assert pieces[0] == "Short one."


def test_combining_marks_stay_with_their_base() -> None:
    text = "e\u0301\u0323" * 20  # no spaces: every cut is a hard cut
    pieces = split_text(text, 7)
    assert_slices(text, pieces, 7)
    assert all(unicodedata.category(p[0]) == "Ll" for p in pieces)
    assert all(len(p) % 3 == 0 for p in pieces)


def test_emoji_sequences_stay_whole() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ sequence, 5 code points
    thumbs = "\U0001f44d\U0001f3fd"  # skin-tone modifier
    flag = "\U0001f1eb\U0001f1f7"  # regional indicator pair
    text = (family + thumbs + flag) * 6
    for limit in (5, 6, 9, 10):
        pieces = split_text(text, limit)
        assert_slices(text, pieces, limit)
        for piece in pieces:
            assert piece[0] not in "\u200d\U0001f3fd"
            assert piece[-1] != "\u200d"
        # Flags are never split: every piece holds whole regional-indicator pairs.
        for piece in pieces:
            assert sum(1 for c in piece if 0x1F1E6 <= ord(c) <= 0x1F1FF) % 2 == 0


def test_surrogate_pair_in_str_never_split() -> None:
    pair = "\ud83d\ude00"  # a surrogate pair held as two code points (e.g. from a lax JSON decoder)
    text = "ab" + pair * 10
    pieces = split_text(text, 3)
    assert_slices(text, pieces, 3)
    for piece in pieces:
        assert not ("\udc00" <= piece[0] <= "\udfff")
        assert not ("\ud800" <= piece[-1] <= "\udbff")


def test_siliconflow_sized_limit_and_speed() -> None:
    paragraph = (
        "The quick brown fox jumps over the lazy dog, again and again. Why? Nobody knows; "
        "perhaps it simply enjoys it! 敏捷的棕色狐狸跳过了懒狗。\n\n"
    )
    text = paragraph * (200_000 // len(paragraph) + 1)
    for limit in (4096, 128_000):
        started = time.perf_counter()
        pieces = split_text(text, limit)
        elapsed = time.perf_counter() - started
        assert elapsed < 0.5, elapsed  # typically a few milliseconds
        assert_slices(text, pieces, limit)
        assert_latin_cuts_clean(text, pieces)
        assert all(p.endswith(("。", ".", "!", "?")) for p in pieces)


def test_cjk_without_punctuation_speed() -> None:
    text = "中文测试文本没有标点" * 20_000
    started = time.perf_counter()
    pieces = split_text(text, 4096)
    assert time.perf_counter() - started < 0.5
    assert "".join(pieces) == text
    assert all(len(p) == 4096 for p in pieces[:-1])


# --- properties ----------------------------------------------------------------------------------------

_LIMITS = st.integers(min_value=1, max_value=60)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400), max_chars=_LIMITS)
def test_any_text_is_covered_in_order(text: str, max_chars: int) -> None:
    pieces = split_text(text, max_chars)
    assert_slices(text, pieces, max_chars)
    assert _WS.sub("", "".join(pieces)) == _WS.sub("", text)
    assert (pieces == []) == (text.strip() == "")


_LATIN_WORD = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZéüß0123456789.,;:!?'\"()-/"), min_size=1, max_size=12
)
_SPACES = st.text(alphabet=st.sampled_from(" \t\n\r\u2003"), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.tuples(_LATIN_WORD, _SPACES), max_size=80),
    max_chars=st.integers(min_value=12, max_value=120),
)
def test_latin_words_never_split(words: list[tuple[str, str]], max_chars: int) -> None:
    text = "".join(word + space for word, space in words)
    pieces = split_text(text, max_chars)
    assert_slices(text, pieces, max_chars)
    assert_latin_cuts_clean(text, pieces)


_CLUSTER = st.tuples(
    st.sampled_from("aeoxAZ中あ한"), st.text(alphabet=st.sampled_from("\u0301\u0308\u0323\u20dd"), max_size=3)
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    clusters=st.lists(st.tuples(_CLUSTER, st.sampled_from(["", "", " ", "。"])), max_size=60),
    max_chars=st.integers(min_value=4, max_value=40),
)
def test_combining_marks_never_orphaned(clusters: list[tuple[str, str]], max_chars: int) -> None:
    text = "".join(cluster + sep for cluster, sep in clusters)
    pieces = split_text(text, max_chars)
    assert_slices(text, pieces, max_chars)
    for piece in pieces:
        assert not unicodedata.combining(piece[0]), pieces
