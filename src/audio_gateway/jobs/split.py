"""Cut long TTS input into provider-sized pieces at the most natural boundary available.

Why: an async speech job may carry ~200,000 characters, but a provider takes at most ``max_chars`` per
request (4,096 for OpenAI, 128,000 for SiliconFlow). Each piece is synthesised on its own and the audio
is stitched afterwards, so where a cut falls is audible: a cut between sentences sounds like an ordinary
pause, a cut inside a word sounds broken. Hence a strict order of preference, per piece:

1. **sentence**: after ``. ! ? …`` (and ``؟ । ॥``) followed by whitespace -- so ``3.14`` and
   ``example.com`` are never cut -- or after CJK ``。！？；｡`` (no space needed), closing quotes and
   brackets staying with their sentence; or at any line break (which covers paragraphs);
2. **clause**: after ``, ; :`` followed by whitespace, or after ``、，：､﹐﹑،؛``;
3. **whitespace** (no-break spaces U+00A0, U+2007, U+202F excluded);
4. **CJK**: next to a CJK character (Han, kana, Hangul, CJK punctuation, full-width forms), for text
   written without spaces, following the basic kinsoku rules (no piece starts with ``。」、`` or a small
   kana, none ends with ``「（``); Latin words are still never cut, only their junction with CJK text;
5. **hard cut** at the limit, when the window holds nothing better -- a single "word" longer than
   ``max_chars`` (a 10,000-character URL, a base64 blob) *is* cut, as it must be to respect the limit.

Within the best level present, the latest boundary wins (pieces as long as the limit allows). A cut is
never made inside a user-perceived character as far as cheaply knowable: never before a combining mark
(Mn/Mc/Me), a variation selector, ZWJ/ZWNJ, an emoji skin-tone modifier or a tag character, never right
after a ZWJ, never inside a surrogate pair, never between the two regional indicators of a flag. Only
a grapheme cluster longer than ``max_chars`` itself can be cut (nothing else would respect the limit).

Output contract: every piece is a *stripped*, non-empty slice of the input, at most ``max_chars`` code
points long; slices are in order, do not overlap, and only whitespace lies between or around them. So
``"".join(pieces)`` equals the input with whitespace removed at the cut points, and
``" ".join(pieces)`` re-creates the text modulo whitespace (runs of whitespace at a cut become one
space; a cut made where there was no whitespace -- CJK, CJK punctuation, hard cut -- gains one).
Removing all whitespace from both gives equal strings. Empty or whitespace-only input gives ``[]``.

Pure and linear: each piece costs a few regex scans of a ``max_chars``-sized window, so 200,000
characters split in a few milliseconds at OpenAI's limit.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["split_text"]

_CLOSERS: Final = "\"'”’»)\\]}」』）》〉】〕〗〙〛"
_NEWLINES: Final = "\\n\\r\\x0b\\x0c\\x1c-\\x1e\\x85\\u2028\\u2029"
# A match's end is the cut position. The newline branch is zero-width: the cut falls on the line break.
_SENTENCE: Final = re.compile(
    f"[.!?…‼⁇⁈⁉؟।॥]+[{_CLOSERS}]*(?=\\s)"
    f"|[。！？；｡︒﹒﹖﹗]+[{_CLOSERS}]*"
    f"|(?=[{_NEWLINES}])"
)
_CLAUSE: Final = re.compile(f"[,;:][{_CLOSERS}]*(?=\\s)|[、，：､﹐﹑،؛][{_CLOSERS}]*")
# Whitespace runs that may be cut at; no-break spaces are meant to hold their neighbours together.
_SPACE: Final = re.compile("[^\\S\\xa0\\u2007\\u202f]+")
_NON_SPACE: Final = re.compile("\\S")
_CJK: Final = re.compile(
    "[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff\u3200-\u33ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
    "\U00020000-\U0003ffff]"
)
# CJK line-breaking rules (kinsoku): a piece never starts with closing punctuation or ends with an
# opening bracket, so that a "。" or "」" is not orphaned at the start of the next piece.
_NO_START: Final = frozenset(
    "。．，、！？；：｡､）」』》〉】〕〗〙〛｝］”’…‥・"
    "ー々ゝゞヽヾぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ"
)
_NO_END: Final = frozenset("（「『《〈【〔〖〘〚｛［“‘")
_JOINERS: Final = frozenset("\u200c\u200d")
_COMBINING: Final = frozenset({"Mn", "Mc", "Me"})


def split_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into stripped, non-empty pieces of at most ``max_chars`` code points each.

    Cuts fall at sentence ends when possible, else at clause punctuation, else at whitespace, else
    next to CJK characters, and only as a last resort (a single word longer than ``max_chars``) at the
    limit itself; see the module docstring for the exact rules and the whitespace contract.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    end = len(text.rstrip())
    pieces: list[str] = []
    pos = 0
    while True:
        first = _NON_SPACE.search(text, pos, end)
        if first is None:
            return pieces
        pos = first.start()
        if end - pos <= max_chars:
            pieces.append(text[pos:end])
            return pieces
        # One character past the limit, so that a break right at the limit can be seen.
        window = text[pos : pos + max_chars + 1]
        cut = _best_cut(window, max_chars)
        pieces.append(text[pos : pos + cut].rstrip())
        pos += cut


def _best_cut(window: str, limit: int) -> int:
    """Where to cut ``window`` (non-space first character, ``len == limit + 1``): 1 <= result <= limit."""
    for pattern in (_SENTENCE, _CLAUSE):
        cut = _last_safe(window, [m.end() for m in pattern.finditer(window)], limit)
        if cut:
            return cut
    cut = _last_safe(window, [m.start() for m in _SPACE.finditer(window)], limit)
    if cut:
        return cut
    if _CJK.search(window):
        is_cjk = _CJK.match
        for cut in range(limit, 0, -1):
            after = window[cut]
            if (
                (is_cjk(after) or is_cjk(window, cut - 1))
                and after not in _NO_START
                and window[cut - 1] not in _NO_END
                and _safe(window, cut)
            ):
                return cut
    # Hard cut: the latest grapheme-safe point; a cluster longer than the limit is cut at the limit.
    for cut in range(limit, 0, -1):
        if _safe(window, cut):
            return cut
    return limit


def _last_safe(window: str, candidates: list[int], limit: int) -> int:
    """The largest candidate in ``[1, limit]`` that does not split a grapheme, or 0."""
    for cut in reversed(candidates):
        if 1 <= cut <= limit and _safe(window, cut):
            return cut
    return 0


def _safe(window: str, cut: int) -> bool:
    """Whether cutting between ``window[cut - 1]`` and ``window[cut]`` keeps every grapheme whole."""
    before, after = window[cut - 1], window[cut]
    if before == "\u200d" or after in _JOINERS or unicodedata.category(after) in _COMBINING:
        return False
    code = ord(after)
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # skin-tone modifiers, emoji tags
        return False
    if 0xDC00 <= code <= 0xDFFF and 0xD800 <= ord(before) <= 0xDBFF:  # a surrogate pair in a str
        return False
    if _regional(after) and _regional(before):
        # Flags are pairs of regional indicators: only an even number of them may precede the cut.
        run = 0
        while run < cut and _regional(window[cut - 1 - run]):
            run += 1
        return run % 2 == 0
    return True


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF
