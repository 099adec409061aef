"""Copies of the shipped catalog with one capability changed, for tests that need a tighter limit."""

from __future__ import annotations

import shutil
from pathlib import Path

from .server_thread import CATALOG_DIR

__all__ = ["catalog_with_duration_limit"]


def catalog_with_duration_limit(directory: Path, seconds: int) -> Path:
    """The shipped catalog under ``directory`` with SenseVoice's ``max_duration_seconds`` (3600) set to ``seconds``."""
    catalog = directory / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    stt = catalog / "models" / "stt.yaml"
    text = stt.read_text(encoding="utf-8")
    if text.count("max_duration_seconds: 3600") != 1:
        raise AssertionError("the shipped stt.yaml no longer has SenseVoice's 3600 s limit to replace")
    stt.write_text(text.replace("max_duration_seconds: 3600", f"max_duration_seconds: {seconds}"), encoding="utf-8")
    return catalog
