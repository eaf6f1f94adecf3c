"""Shared pydantic base for every configuration object (targets, learners, presets, checks).

Unknown keys are rejected (``extra="forbid"``), NaN and infinities are not numbers any field accepts, and
every value is validated, so a typo in a preset or a
``--set`` override fails with a message naming the field instead of being silently ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


def _loc_part(p: object) -> str:
    """A field name as written, or quoted if it is not a plain name (so that odd keys stay on one line)."""
    s = str(p)
    return s if isinstance(p, int) or s.replace("-", "_").isidentifier() else repr(s)


def format_validation_error(err: ValidationError, prefix: str = "") -> str:
    """One line per problem: ``field.path: message (got value)``."""
    lines = []
    for e in err.errors():
        loc = ".".join(
            _loc_part(p) for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        got = e.get("input")
        shown = repr(got) if not isinstance(got, dict) else "{...}"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        lines.append(f"{loc or '<root>'}: {e['msg']} (got {shown})")
    return "\n".join(lines)
