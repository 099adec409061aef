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
    start = text.index("id: alibaba/sensevoice-small")
    end = text.find("  - id:", start)
    block = text[start:] if end < 0 else text[start:end]
    if block.count("max_duration_seconds: 3600") != 1:
        raise AssertionError("the shipped stt.yaml no longer has SenseVoice's 3600 s limit to replace")
    block = block.replace("max_duration_seconds: 3600", f"max_duration_seconds: {seconds}")
    stt.write_text(text[:start] + block + ("" if end < 0 else text[end:]), encoding="utf-8")
    return catalog
