"""Whisper's language table, so both providers report languages the way whisper-1 does.

OpenAI's ``verbose_json`` names the language in lowercase English ("english"), while requests and our own
``Transcript`` use ISO-639-1 codes ("en"). The table below is Whisper's ``LANGUAGES`` (same codes, names and
order, including Whisper's non-standard ``jw`` for Javanese and the three-letter ``haw`` and ``yue``).
"""

from __future__ import annotations

import unicodedata
from types import MappingProxyType
from typing import Final

__all__ = ["LANGUAGES", "guess_language", "language_code", "language_name"]

LANGUAGES: Final = MappingProxyType(
    {
        "en": "english",
        "zh": "chinese",
        "de": "german",
        "es": "spanish",
        "ru": "russian",
        "ko": "korean",
        "fr": "french",
        "ja": "japanese",
        "pt": "portuguese",
        "tr": "turkish",
        "pl": "polish",
        "ca": "catalan",
        "nl": "dutch",
        "ar": "arabic",
        "sv": "swedish",
        "it": "italian",
        "id": "indonesian",
        "hi": "hindi",
        "fi": "finnish",
        "vi": "vietnamese",
        "he": "hebrew",
        "uk": "ukrainian",
        "el": "greek",
        "ms": "malay",
        "cs": "czech",
        "ro": "romanian",
        "da": "danish",
        "hu": "hungarian",
        "ta": "tamil",
        "no": "norwegian",
        "th": "thai",
        "ur": "urdu",
        "hr": "croatian",
        "bg": "bulgarian",
        "lt": "lithuanian",
        "la": "latin",
        "mi": "maori",
        "ml": "malayalam",
        "cy": "welsh",
        "sk": "slovak",
        "te": "telugu",
        "fa": "persian",
        "lv": "latvian",
        "bn": "bengali",
        "sr": "serbian",
        "az": "azerbaijani",
        "sl": "slovenian",
        "kn": "kannada",
        "et": "estonian",
        "mk": "macedonian",
        "br": "breton",
        "eu": "basque",
        "is": "icelandic",
        "hy": "armenian",
        "ne": "nepali",
        "mn": "mongolian",
        "bs": "bosnian",
        "kk": "kazakh",
        "sq": "albanian",
        "sw": "swahili",
        "gl": "galician",
        "mr": "marathi",
        "pa": "punjabi",
        "si": "sinhala",
        "km": "khmer",
        "sn": "shona",
        "yo": "yoruba",
        "so": "somali",
        "af": "afrikaans",
        "oc": "occitan",
        "ka": "georgian",
        "be": "belarusian",
        "tg": "tajik",
        "sd": "sindhi",
        "gu": "gujarati",
        "am": "amharic",
        "yi": "yiddish",
        "lo": "lao",
        "uz": "uzbek",
        "fo": "faroese",
        "ht": "haitian creole",
        "ps": "pashto",
        "tk": "turkmen",
        "nn": "nynorsk",
        "mt": "maltese",
        "sa": "sanskrit",
        "lb": "luxembourgish",
        "my": "myanmar",
        "bo": "tibetan",
        "tl": "tagalog",
        "mg": "malagasy",
        "as": "assamese",
        "tt": "tatar",
        "haw": "hawaiian",
        "ln": "lingala",
        "ha": "hausa",
        "ba": "bashkir",
        "jw": "javanese",
        "su": "sundanese",
        "yue": "cantonese",
    }
)

# Names and codes that mean a table entry: Whisper's own aliases plus codes clients actually send
# (standard ISO codes where Whisper differs, and obsolete ones).
_ALIASES: Final = {
    "burmese": "my",
    "valencian": "ca",
    "flemish": "nl",
    "haitian": "ht",
    "letzeburgesch": "lb",
    "pushto": "ps",
    "panjabi": "pa",
    "moldavian": "ro",
    "moldovan": "ro",
    "sinhalese": "si",
    "castilian": "es",
    "mandarin": "zh",
    "jv": "jw",
    "iw": "he",
    "in": "id",
    "ji": "yi",
    "nb": "no",
    "fil": "tl",
}
_BY_NAME: Final = {name: code for code, name in LANGUAGES.items()}


def language_name(code: str | None) -> str | None:
    """``"en"`` -> ``"english"``; None for an unknown code. Accepts region tags (``"pt-BR"``) and aliases."""
    resolved = language_code(code)
    return LANGUAGES[resolved] if resolved is not None else None


def language_code(name_or_code: str | None) -> str | None:
    """``"english"``, ``"English"``, ``"en"``, ``"en-US"`` -> ``"en"``; None when not a Whisper language."""
    if not name_or_code:
        return None
    key = name_or_code.strip().lower().replace("_", "-")
    if key in LANGUAGES:
        return key
    if key in _BY_NAME:
        return _BY_NAME[key]
    if key in _ALIASES:
        return _ALIASES[key]
    primary = key.split("-", 1)[0]
    if primary != key:
        return language_code(primary)
    return None


# Unicode script (the first word of a character's Unicode name) -> the language guessed for it.
_SCRIPTS: Final = {
    "CJK": "zh",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "HANGUL": "ko",
    "CYRILLIC": "ru",
    "ARABIC": "ar",
    "HEBREW": "he",
    "GREEK": "el",
    "THAI": "th",
    "DEVANAGARI": "hi",
    "LATIN": "en",
}

_WEIGHTS: Final = {"CJK": 3, "HIRAGANA": 3, "KATAKANA": 3, "HANGUL": 3}


def guess_language(text: str) -> str | None:
    """A dependency-free guess of ``text``'s language from its Unicode scripts -- a heuristic.

    Only used when neither the request nor the provider names a language (SenseVoice returns bare text),
    so that ``verbose_json`` can still carry a plausible ``language``. It knows scripts, not languages:
    Han without kana is Chinese, any kana makes it Japanese, Hangul Korean, Cyrillic Russian, Arabic script
    Arabic, Hebrew, Greek, Thai, Devanagari Hindi, and Latin English. The script with the most weight wins;
    a Han, kana or Hangul character weighs three Latin letters (it is a syllable or a word, so "我用iPhone
    拍照" is Chinese), and with any kana present the Han counts towards Japanese. None without letters.
    """
    counts: dict[str, int] = {}
    kana = False
    for ch in text:
        if not ch.isalpha():
            continue
        script = _script(ch)
        if script is None:
            continue
        if script in ("HIRAGANA", "KATAKANA"):
            kana = True
        lang = _SCRIPTS[script]
        counts[lang] = counts.get(lang, 0) + _WEIGHTS.get(script, 1)
    if not counts:
        return None
    if kana:
        counts["ja"] = counts.get("ja", 0) + counts.pop("zh", 0)
    return max(counts.items(), key=lambda item: item[1])[0]


def _script(ch: str) -> str | None:
    code = ord(ch)
    if code < 0x250:  # ASCII, Latin-1 and Latin Extended-A/B: skip the name lookup on the hot path
        return "LATIN"
    if 0x3040 <= code <= 0x309F:
        return "HIRAGANA"
    if 0x30A0 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
        return "KATAKANA"
    name = unicodedata.name(ch, "")
    first = name.split(" ", 1)[0]
    if first in _SCRIPTS:
        return first
    if first == "HALFWIDTH" and "HANGUL" in name:
        return "HANGUL"
    return None
