"""eSpeak NG through its C library: text → 16-bit mono PCM, chunk by chunk as it is synthesised.

The library and its voice data come from the `espeakng-loader` wheel, so no system package (and no
root) is needed; any other libespeak-ng with its data directory works the same. eSpeak keeps global
state, so one process holds one engine and synthesises one text at a time (the pool's workers).
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path

import msgspec

__all__ = ["EspeakEngine", "EspeakError", "EspeakFiles", "UnknownVoice", "bundled_espeak", "words_per_minute"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2     # espeak_AUDIO_OUTPUT: the callback gets samples; Synth returns when done
_RATE = 1                         # espeak_PARAMETER espeakRATE, words per minute
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_BUFFER_MS = 100                  # samples handed to the callback at a time
_DEFAULT_WPM = 175                # eSpeak's own default: OpenAI's speed 1.0
_MIN_WPM, _MAX_WPM = 80, 450      # the range eSpeak accepts

_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakError(RuntimeError):
    """The library could not be loaded, initialised, or asked for a voice."""


class UnknownVoice(EspeakError):
    """eSpeak NG has no voice of that name (the request's fault, not the engine's)."""


class EspeakFiles(msgspec.Struct, frozen=True):
    library: str
    data: str


def bundled_espeak() -> EspeakFiles:
    """The library and data directory inside the `espeakng-loader` wheel (ImportError if absent)."""
    import espeakng_loader

    return EspeakFiles(library=espeakng_loader.get_library_path(), data=espeakng_loader.get_data_path())


def words_per_minute(speed: float | None) -> int:
    """OpenAI's `speed` (1.0 = normal) → eSpeak's rate, within what eSpeak accepts."""
    return max(_MIN_WPM, min(_MAX_WPM, round(_DEFAULT_WPM * (speed or 1.0))))


class EspeakEngine:
    """One initialised eSpeak NG library; `synthesize` yields PCM (s16le, mono, `sample_rate` Hz)."""

    def __init__(self, files: EspeakFiles):
        if not Path(files.library).is_file() or not Path(files.data).is_dir():
            raise EspeakError(f"eSpeak NG not found ({files.library}, {files.data})")
        lib = ctypes.CDLL(files.library)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_Callback]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, files.data.encode(), 0)
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed ({rate}) with data at {files.data}")
        self.sample_rate: int = rate
        self._lib = lib
        self._pending: list[bytes] = []
        self._callback = _Callback(self._collect)   # kept referenced: the library calls it later
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes._Pointer, count: int, _events: int) -> int:
        if count > 0:
            self._pending.append(ctypes.string_at(wav, count * 2))
        return 0

    def synthesize(self, text: str, voice: str, wpm: int = _DEFAULT_WPM) -> Iterator[bytes]:
        """PCM for `text`, sentence by sentence (eSpeak calls back every ~100 ms of audio).

        Synthesis of one clause runs inside `espeak_Synth`; the generator yields what each call
        produced, so the first bytes leave before the whole text is spoken.
        """
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise UnknownVoice(f"eSpeak NG has no voice {voice!r}")
        self._lib.espeak_SetParameter(_RATE, max(_MIN_WPM, min(_MAX_WPM, wpm)), 0)
        for piece in _clauses(text):
            data = piece.encode("utf-8") + b"\0"
            self._pending.clear()
            result = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if result != 0:
                raise EspeakError(f"espeak_Synth failed ({result})")
            chunk = b"".join(self._pending)
            self._pending.clear()
            if chunk:
                yield chunk


def _clauses(text: str, target: int = 400) -> Iterator[str]:
    """Split long text at line breaks and sentence ends so audio streams out while the rest is made."""
    buffer = ""
    for line in text.splitlines(keepends=True):
        for sentence in _sentences(line):
            buffer += sentence
            if len(buffer) >= target:
                yield buffer
                buffer = ""
    if buffer.strip():
        yield buffer


def _sentences(line: str) -> Iterator[str]:
    start = 0
    for index, char in enumerate(line):
        if char in ".!?;。！？" and (index + 1 == len(line) or line[index + 1].isspace()):
            yield line[start:index + 1]
            start = index + 1
    if start < len(line):
        yield line[start:]
