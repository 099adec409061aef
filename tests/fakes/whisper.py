"""Whisper-shaped transcripts rendered from a text and a measured duration (pure functions).

The fake STT splits its canned text into sentences and spreads them over the real length of the upload,
so json/text/srt/vtt/verbose_json outputs agree with each other and with the audio, as real Whisper's do.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "LANGUAGES",
    "Segment",
    "Word",
    "segments",
    "to_srt",
    "to_vtt",
    "usage_seconds",
    "verbose_json",
    "words",
]

_LANGUAGE_TABLE = (
    "en english,zh chinese,de german,es spanish,ru russian,ko korean,fr french,ja japanese,pt portuguese,"
    "tr turkish,pl polish,ca catalan,nl dutch,ar arabic,sv swedish,it italian,id indonesian,hi hindi,"
    "fi finnish,vi vietnamese,he hebrew,uk ukrainian,el greek,ms malay,cs czech,ro romanian,da danish,"
    "hu hungarian,ta tamil,no norwegian,th thai,ur urdu,hr croatian,bg bulgarian,lt lithuanian,la latin,"
    "mi maori,ml malayalam,cy welsh,sk slovak,te telugu,fa persian,lv latvian,bn bengali,sr serbian,"
    "az azerbaijani,sl slovenian,kn kannada,et estonian,mk macedonian,br breton,eu basque,is icelandic,"
    "hy armenian,ne nepali,mn mongolian,bs bosnian,kk kazakh,sq albanian,sw swahili,gl galician,mr marathi,"
    "pa punjabi,si sinhala,km khmer,sn shona,yo yoruba,so somali,af afrikaans,oc occitan,ka georgian,"
    "be belarusian,tg tajik,sd sindhi,gu gujarati,am amharic,yi yiddish,lo lao,uz uzbek,fo faroese,"
    "ht haitian creole,ps pashto,tk turkmen,nn nynorsk,mt maltese,sa sanskrit,lb luxembourgish,my myanmar,"
    "bo tibetan,tl tagalog,mg malagasy,as assamese,tt tatar,haw hawaiian,ln lingala,ha hausa,ba bashkir,"
    "jw javanese,su sundanese,yue cantonese"
)
LANGUAGES: Final[dict[str, str]] = dict(item.split(" ", 1) for item in _LANGUAGE_TABLE.split(","))
"""Whisper's ISO-639-1 codes -> the full lower-case names that verbose_json reports."""

_SOT: Final = 50364  # Whisper's <|0.00|> timestamp token; each later step is 20 ms
_SENTENCE_END: Final = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    """Leading space included, as Whisper emits it."""


def segments(text: str, duration: float) -> list[Segment]:
    """One segment per sentence, each lasting in proportion to its length, together spanning ``duration``."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    total = sum(map(len, sentences)) or 1
    result: list[Segment] = []
    consumed = 0
    for index, sentence in enumerate(sentences):
        start = duration * consumed / total
        consumed += len(sentence)
        result.append(Segment(index, round(start, 2), round(duration * consumed / total, 2), f" {sentence}"))
    return result


def words(segs: list[Segment]) -> list[Word]:
    """Word timings inside each segment, punctuation stripped as in Whisper's word output."""
    result: list[Word] = []
    for seg in segs:
        tokens = seg.text.split()
        total = sum(map(len, tokens)) or 1
        consumed = 0
        for token in tokens:
            start = seg.start + (seg.end - seg.start) * consumed / total
            consumed += len(token)
            end = seg.start + (seg.end - seg.start) * consumed / total
            result.append(Word(token.strip(".,!?;:\"'"), round(start, 2), round(end, 2)))
    return result


def usage_seconds(duration: float) -> int:
    """Billed whole seconds (ceil; OpenAI's exact rounding is unconfirmed)."""
    return max(1, math.ceil(round(duration, 3)))


def _stamp(seconds: float, sep: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def to_srt(segs: list[Segment]) -> str:
    return "".join(
        f"{seg.id + 1}\n{_stamp(seg.start, ',')} --> {_stamp(seg.end, ',')}\n{seg.text.strip()}\n\n" for seg in segs
    )


def to_vtt(segs: list[Segment]) -> str:
    cues = "".join(f"{_stamp(seg.start, '.')} --> {_stamp(seg.end, '.')}\n{seg.text.strip()}\n\n" for seg in segs)
    return f"WEBVTT\n\n{cues}"


def _tokens(seg: Segment) -> list[int]:
    body = [zlib.crc32(word.encode()) % 50000 + 200 for word in seg.text.split()]
    return [_SOT + round(seg.start / 0.02), *body, _SOT + round(seg.end / 0.02)]


def _segment_json(seg: Segment) -> dict[str, Any]:
    return {
        "id": seg.id,
        "seek": int(seg.start // 30) * 3000,
        "start": seg.start,
        "end": seg.end,
        "text": seg.text,
        "tokens": _tokens(seg),
        "temperature": 0.0,
        "avg_logprob": -0.2860786020755768,
        "compression_ratio": 1.2363636493682861,
        "no_speech_prob": 0.00985979475080967,
    }


def verbose_json(
    *,
    task: str,
    language: str,
    duration: float,
    text: str,
    granularities: list[str],
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """The verbose_json body: segments unless only ``word`` was asked for; words only when asked for."""
    segs = segments(text, duration)
    body: dict[str, Any] = {
        "task": task,
        "language": language,
        "duration": round(duration, 3),
        "text": text.strip(),
    }
    if "word" in granularities:
        body["words"] = [{"word": w.word, "start": w.start, "end": w.end} for w in words(segs)]
    if not granularities or "segment" in granularities:
        body["segments"] = [_segment_json(seg) for seg in segs]
    if usage is not None:
        body["usage"] = usage
    return body
