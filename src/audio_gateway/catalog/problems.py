"""What is wrong with a catalog, said so an operator can find and fix it.

Every stage (reading YAML, schema validation, cross-references) reports
`CatalogProblem`s rather than raising on the first one, so `catalog check`
lists everything at once.
"""

from __future__ import annotations

import msgspec

__all__ = ["CatalogProblem", "CatalogInvalid", "format_path"]


class CatalogProblem(msgspec.Struct, frozen=True):
    """One error: where (file, line, JSON path) and a plain sentence."""

    file: str
    path: tuple[str | int, ...]
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: at {format_path(self.path)}: {self.message}"


def format_path(path: tuple[str | int, ...]) -> str:
    """`$.models[3].billing[0].unit`, the notation msgspec and JSONPath use."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class CatalogInvalid(Exception):
    """The catalog cannot be compiled; carries every problem found."""

    def __init__(self, problems: list[CatalogProblem]):
        self.problems = tuple(problems)
        super().__init__(f"{len(problems)} catalog problem(s):\n" + "\n".join(map(str, problems)))
