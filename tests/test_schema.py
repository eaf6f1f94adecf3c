"""The preset JSON schema documents every field an experiment file can set (editors validate and complete
experiment files from ``Preset.model_json_schema()``): every property carries a non-empty, one-line description."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from depthlab.presets.base import Preset

SKIP_MODELS: set[str] = set()  # every model's fields are described

_NESTED = ("anyOf", "allOf", "oneOf", "items", "prefixItems", "additionalProperties", "not")


def _sub_schemas(node: Any) -> Iterator[dict[str, Any]]:
    """The schemas directly nested in ``node`` through anyOf / allOf / oneOf / items / ... (not through $ref)."""
    if not isinstance(node, dict):
        return
    for key in _NESTED:
        child = node.get(key)
        for c in child if isinstance(child, list) else [child]:
            if isinstance(c, dict):
                yield c


def _properties(model: str, node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(qualified name, schema) of every property of ``node``, and of the inline objects nested in them or in
    ``node``'s own anyOf / allOf / ... branches (a $ref is its own entry of $defs, walked there)."""
    for name, prop in node.get("properties", {}).items():
        qual = f"{model}.{name}"
        yield qual, prop
        yield from _properties(qual, prop)
    for sub in _sub_schemas(node):
        yield from _properties(model, sub)


def _models() -> list[tuple[str, dict[str, Any]]]:
    schema = Preset.model_json_schema()
    return [("Preset", schema), *schema.get("$defs", {}).items()]


def _all_properties() -> list[tuple[str, dict[str, Any]]]:
    return [p for model, node in _models() if model not in SKIP_MODELS for p in _properties(model, node)]


def test_schema_walk_sees_the_config_models() -> None:
    names = {m for m, _ in _models()}
    for expected in ("HierarchicalTarget", "LayerwiseThreeLayer", "KernelRidge", "OrderingCheck", "Prediction"):
        assert expected in names
    assert len(_all_properties()) > 100


def test_every_field_has_a_description() -> None:
    missing = [name for name, prop in _all_properties() if not str(prop.get("description", "")).strip()]
    assert not missing, f"{len(missing)} fields without a description: {missing}"


def test_descriptions_are_one_line() -> None:
    multi = [name for name, prop in _all_properties() if "\n" in str(prop.get("description", ""))]
    assert not multi, f"multi-line descriptions: {multi}"
