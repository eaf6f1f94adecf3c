"""Shared pydantic base for every configuration object (targets, learners, presets, checks).

Unknown keys are rejected (``extra="forbid"``), NaN and infinities are not numbers any field accepts, and
every value is validated, so a typo in a preset or a
``--set`` override fails with a message naming the field instead of being silently ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


def _loc_part(p: object) -> str:
    """A field name as written, or quoted if it is not a plain name (so that odd keys stay on one line)."""
    s = str(p)
    return s if isinstance(p, int) or s.replace("-", "_").isidentifier() else repr(s)


def _as_written(loc: tuple[Any, ...], data: Any) -> list[Any]:
    """The location as written in the input: pydantic inserts a tagged union's tag (a learner's kind, a
    target's family, a check's kind) after the member's own key, ``methods.kernel.kernel.degre`` for the
    ``degre`` of ``methods.kernel``; the tag is dropped (once, right after entering that member)."""
    out: list[Any] = []
    node, tag = data, None
    for p in loc:
        if isinstance(p, str) and p.startswith("function-"):
            continue
        if tag is not None and p == tag:
            tag = None
            continue
        out.append(p)
        if isinstance(node, dict):
            node = node.get(p)
        elif isinstance(node, list) and isinstance(p, int) and 0 <= p < len(node):
            node = node[p]
        else:
            node = None
        tag = (node.get("kind") or node.get("family")) if isinstance(node, dict) else None
    return out


def format_validation_error(err: ValidationError, prefix: str = "", data: Any = None) -> str:
    """One line per problem: ``field.path: message (got value)`` (with ``data``, the validated input, the path
    as written in it)."""
    lines = []
    for e in err.errors():
        parts = _as_written(e["loc"], data) if data is not None else [
            p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        loc = ".".join(_loc_part(p) for p in parts)
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        got = e.get("input")
        shown = repr(got) if not isinstance(got, dict) else "{...}"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        lines.append(f"{loc or '<root>'}: {e['msg']} (got {shown})")
    return "\n".join(lines)
