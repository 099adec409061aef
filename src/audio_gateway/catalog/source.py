"""Reading catalog YAML: files → plain data, with line numbers and ${VAR} interpolation.

Line numbers are kept per JSON path so that schema and cross-reference errors can
point at the exact line an operator has to edit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import yaml

from .problems import CatalogProblem

__all__ = ["SourceFile", "read_catalog_dir", "read_source", "interpolate"]

Path_ = tuple[str | int, ...]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Loader(yaml.SafeLoader):
    """SafeLoader whose floats are exact Decimals: prices must not pick up binary noise."""


_Loader.add_constructor(
    "tag:yaml.org,2002:float",
    lambda loader, node: Decimal(loader.construct_scalar(node).replace("_", "")),
)


class SourceFile(msgspec.Struct, frozen=True):
    """One catalog file after parsing; `lines` maps JSON paths to 1-based line numbers."""

    name: str
    data: Any
    lines: Mapping[Path_, int]

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest known prefix of `path` (a missing key points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def problem(self, path: Path_, message: str) -> CatalogProblem:
        return CatalogProblem(file=self.name, path=tuple(path), message=message, line=self.line_of(path))


def _index_lines(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            _index_lines(value_node, path + (key,), out)
            out[path + (key,)] = key_node.start_mark.line + 1  # the key's line reads better than the value's
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, path + (i,), out)


def interpolate(data: Any, env: Mapping[str, str], report, path: Path_ = ()) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; unset VAR without default is reported."""
    if isinstance(data, str):
        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = env.get(name)
            if value is None or (value == "" and default is not None):
                if default is None:
                    report(path, f"environment variable {name} is not set (write ${{{name}:-}} to allow empty)")
                    return ""
                return default
            return value

        return _ENV_REF.sub(sub, data)
    if isinstance(data, dict):
        return {k: interpolate(v, env, report, path + (k,)) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate(v, env, report, path + (i,)) for i, v in enumerate(data)]
    return data


def read_source(name: str, text: str, env: Mapping[str, str], problems: list[CatalogProblem]) -> SourceFile | None:
    """Parse one file; on a YAML syntax error record it and return None."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(
            CatalogProblem(
                file=name,
                path=(),
                message=f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                line=mark.line + 1 if mark else None,
            )
        )
        return None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    source = SourceFile(name=name, data=None, lines=lines)
    data = interpolate(data, env, lambda p, m: problems.append(source.problem(p, m)))
    return SourceFile(name=name, data=data, lines=lines)


def read_catalog_dir(directory: Path, env: Mapping[str, str], problems: list[CatalogProblem],
                     digest: Callable[[bytes], object] | None = None) -> list[SourceFile]:
    """Every *.yaml / *.yml below `directory`, in a stable (sorted) order.

    `digest` (a hash's `update`) is fed each file's name and the very bytes that were parsed, so the
    catalog's version is the content that was compiled, even if a file changes while it is read."""
    if not directory.is_dir():
        problems.append(CatalogProblem(file=str(directory), path=(), message="catalog directory does not exist"))
        return []
    files = sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
    if not files:
        problems.append(CatalogProblem(file=str(directory), path=(), message="no *.yaml files in the catalog directory"))
    sources = []
    for path in files:
        name = str(path.relative_to(directory.parent)) if directory.parent != path else str(path)
        raw = path.read_bytes()
        if digest is not None:
            digest(b"%d:%s\0%d:" % (len(name), name.encode(), len(raw)) + raw)
        source = read_source(name, raw.decode("utf-8"), env, problems)
        if source is not None:
            sources.append(source)
    return sources
