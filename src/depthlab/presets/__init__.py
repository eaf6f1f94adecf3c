"""Named presets, one module per paper; ``quick`` is the embedded default."""

from __future__ import annotations

from depthlab.presets import damian2022, dandi2025, dandi2025_deep, dandi2025_theorem1, nichani2023, safran_lee2022
from depthlab.presets.base import Preset, PresetError, apply_overrides

_ALL: dict[str, Preset] = {
    p.name: p
    for p in [*dandi2025.PRESETS, *dandi2025_deep.PRESETS, *dandi2025_theorem1.PRESETS, *nichani2023.PRESETS,
              *damian2022.PRESETS, *safran_lee2022.PRESETS]
}

DEFAULT = "quick"


def preset_names() -> list[str]:
    return list(_ALL)


def get_preset(name: str) -> Preset:
    try:
        return _ALL[name]
    except KeyError:
        raise PresetError(f"unknown preset {name!r}; available: {', '.join(_ALL)}") from None


def all_presets() -> list[Preset]:
    return list(_ALL.values())


__all__ = ["DEFAULT", "Preset", "PresetError", "all_presets", "apply_overrides", "get_preset", "preset_names"]
