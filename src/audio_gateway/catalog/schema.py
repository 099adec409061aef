"""JSON Schema validation of each catalog file (draft 2020-12, the same file editors use)."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from ..billing.units import UNITS, Source, schema_unit_names
from .problems import CatalogProblem
from .source import SourceFile

__all__ = ["default_schema_path", "load_validator", "schema_problems", "with_registry_units", "render_schema"]

_DECIMAL = re.compile(r"Decimal\('([^']*)'\)")  # YAML numbers are Decimals: say 1.5, not Decimal('1.5')


def default_schema_path(catalog_dir: Path) -> Path:
    """`schema/catalog.schema.json` beside the catalog directory, else the one in this checkout."""
    beside = catalog_dir.resolve().parent / "schema" / "catalog.schema.json"
    if beside.is_file():
        return beside
    return Path(__file__).resolve().parents[3] / "schema" / "catalog.schema.json"


@cache
def load_validator(schema_path: Path) -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _sentence(error: jsonschema.ValidationError) -> str:
    """jsonschema's messages, minus the noise of `if/then` and `$ref` wrappers."""
    if error.validator == "required" and isinstance(error.schema, dict) and "$comment" in error.schema:
        return str(error.schema["$comment"])  # the schema says what is missing in an operator's words
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key(s)")
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {error.validator_value}"
    if error.validator == "not" and isinstance(error.validator_value, dict) and isinstance(error.instance, dict):
        branches = error.validator_value.get("anyOf", [error.validator_value])
        keys = [b["required"][0] for b in branches if b.get("required") and b["required"][0] in error.instance]
        why = error.validator_value.get("description")  # the schema says why, with `{key}` for the key
        if keys and why:
            return " ".join(why.replace("{key}", key) + "." for key in keys)
        if keys:
            return " ".join(f"key {key!r} is not allowed here (it belongs to another unit or kind)." for key in keys)
    if error.validator == "not":
        return "has a key that is not allowed for this unit/kind"
    return error.message


def schema_problems(source: SourceFile, validator: jsonschema.Draft202012Validator) -> list[CatalogProblem]:
    """Every schema violation in one file, deepest (most specific) errors first per location."""
    problems = []
    for error in sorted(validator.iter_errors(source.data), key=lambda e: list(map(str, e.absolute_path))):
        leaves = [error]
        if error.context:  # anyOf/oneOf: report the branch errors instead of "is not valid under any"
            leaves = [e for e in error.context if not e.context] or leaves
        for leaf in leaves:
            problems.append(source.problem(tuple(leaf.absolute_path), _DECIMAL.sub(r"\1", _sentence(leaf))))
    return problems


def with_registry_units(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every unit enum taken from the unit registry (`billing/units.py`).

    The committed schema file is this function's output (`python -m audio_gateway.catalog.schema`
    rewrites it; a test fails when it is stale), so editors and the gateway validate the same units."""
    out = copy.deepcopy(schema)
    defs = out["$defs"]
    component = defs["billing_component"]["properties"]
    component["unit"]["enum"] = schema_unit_names()
    component["estimate"]["properties"]["from"]["enum"] = [
        str(unit) for unit, spec in UNITS.items() if set(spec.sources.values()) & {Source.TEXT, Source.AUDIO}]
    for branch in defs["model"]["allOf"]:
        kind = branch["if"]["properties"]["kind"]["const"]
        branch["then"]["properties"]["billing"]["items"]["properties"]["unit"]["enum"] = schema_unit_names(kind)
    return out


def render_schema(path: Path) -> str:
    return json.dumps(with_registry_units(json.loads(path.read_text(encoding="utf-8"))), indent=2,
                      ensure_ascii=False) + "\n"


if __name__ == "__main__":  # rewrite the committed schema from the registry
    target = Path(__file__).resolve().parents[3] / "schema" / "catalog.schema.json"
    target.write_text(render_schema(target), encoding="utf-8")
    print(f"wrote {target}")
