"""Experiments as files: a preset written as TOML, YAML or JSON, validated like a built-in one.

    depthlab show quick --format toml > mine.toml     any preset, resolved, as a file that runs unchanged
    depthlab run mine.toml --set d=48                  the same pipeline (store, resume, checks, report, Dask)
    depthlab schema                                    the JSON Schema of such a file (every field described)

The file holds one preset: the fields of ``Preset`` at its top level (``name``, ``paper``, ``description``,
``target``, ``methods``, the grid, ``checks``, ``predictions``...). The stored sweep keeps the resolved
configuration, so ``results``, ``check`` and ``report`` work later by the preset's ``name`` without the file.
TOML has no null: a field whose value is None and whose default is not is written ``"none"`` (e.g. an
absolute threshold, ``relative_to = "none"``); fields at their default None are left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from depthlab.config import format_validation_error
from depthlab.presets.base import Preset, PresetError

Format = Literal["json", "toml", "yaml"]
SUFFIXES: dict[str, Format] = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def is_experiment_file(ref: str) -> bool:
    """Whether a preset argument names a file (by its suffix) rather than a built-in preset."""
    return Path(ref).suffix.lower() in SUFFIXES


def _parse(text: str, fmt: Format, where: str) -> Any:
    """The file's data; a syntax error becomes one line with the file and, where the parser gives it, the line."""
    try:
        if fmt == "json":
            return json.loads(text)
        if fmt == "toml":
            import tomllib

            return tomllib.loads(text)
        import yaml

        return yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise PresetError(f"{where}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    except Exception as e:  # tomllib.TOMLDecodeError, yaml.YAMLError: their messages carry line and column
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        msg = " ".join(str(e).split())
        raise PresetError(f"{where}{line}: invalid {fmt.upper()}: {msg}") from None


def load_experiment(path: str | Path) -> Preset:
    """The preset a TOML / YAML / JSON file defines; PresetError (naming the file and the field) if it is not one."""
    p = Path(path)
    fmt = SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise PresetError(f"{p}: not an experiment file (use one of {', '.join(SUFFIXES)})")
    try:
        text = p.read_text()
    except OSError as e:
        raise PresetError(f"cannot read experiment file {p}: {e.strerror or e}") from None
    data = _parse(text, fmt, str(p))
    if not isinstance(data, dict):
        raise PresetError(f"{p}: an experiment file holds one preset (a table of its fields), got "
                          f"{type(data).__name__}")
    try:
        return Preset.model_validate(data)
    except ValidationError as e:
        raise PresetError(f"invalid experiment file {p}:\n{format_validation_error(e, data=data)}") from None


_MISSING = object()


def _nulls_for(full: Any, nondefault: Any) -> Any:
    """``full`` without the None values that are defaults; the others (None where the default is not) as
    ``"none"`` (TOML has no null; the fields that can take such a value read ``"none"`` as None)."""
    if isinstance(full, dict):
        out = {}
        for k, v in full.items():
            nd = nondefault.get(k, _MISSING) if isinstance(nondefault, dict) else _MISSING
            if v is None:
                if nd is not _MISSING:
                    out[k] = "none"
                continue
            out[k] = _nulls_for(v, nd)
        return out
    if isinstance(full, list):
        nds = nondefault if isinstance(nondefault, list) and len(nondefault) == len(full) else [_MISSING] * len(full)
        return [_nulls_for(v, nd) for v, nd in zip(full, nds, strict=True)]
    return full



def dump_experiment(preset: Preset, fmt: Format) -> str:
    """The preset as a file of format ``fmt`` that ``load_experiment`` reads back to the same preset."""
    full = preset.model_dump(mode="json")
    if fmt == "json":
        return json.dumps(full, indent=2) + "\n"
    data = _nulls_for(full, preset.model_dump(mode="json", exclude_defaults=True))
    data["target"].pop("d", None)  # set per grid point
    head = f"# depthlab experiment {preset.name!r}: `depthlab run <this file>`; fields: `depthlab schema`\n"
    if fmt == "yaml":
        import yaml

        return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    import tomli_w

    return head + tomli_w.dumps(data)


def experiment_schema() -> dict[str, Any]:
    """The JSON Schema of an experiment file (``Preset``), every field with its description."""
    schema = Preset.model_json_schema()
    schema["title"] = "depthlab experiment"
    schema["description"] = (
        "One depthlab experiment (a preset): target, learners, grid n = d^kappa, trials, checks and predictions. "
        "Run it with `depthlab run FILE`."
    )
    return schema
