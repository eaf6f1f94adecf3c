"""The preset model: a declarative, validated description of one paper experiment, and ``--set`` overrides.

Grid: for each d in ``d`` and kappa on ``num_kappa`` evenly spaced values in [kappa_min, kappa_max],
n = int(d^kappa) (rounded down, as ``np.logspace(..., base=d, dtype=int)`` in the public code); repeated n
at small kappa are merged. Every (method, d, n) cell runs ``trials`` seeds.

Sample-complexity exponents (``depthlab exponents``): ``threshold`` defines n* (first n at which a method's
median metric crosses it); ``predictions`` holds the paper's prediction n* ~ d^s per method where the paper
gives one (``depthlab.theory.Prediction``: exponent, finite-d form, relation, tolerance, source), computed in
the preset module from the target's parameters. Each prediction adds a ``PredictionCheck`` to the preset's
checks (``all_checks``) unless one for that method is declared. Adding predictions to a preset is one dict:
``predictions={"method": theory.Prediction(exponent=..., formula=..., source=...)}``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from depthlab.checks import CheckConfig, PredictionCheck
from depthlab.config import Config, format_validation_error
from depthlab.learners import LearnerConfig
from depthlab.learners.base import PlotRole
from depthlab.targets import TargetConfig
from depthlab.theory import Prediction, Threshold

MAX_D = 1_000_000
MAX_SAMPLES = 10**9  # largest n = int(d^kappa) and n_test a preset may ask for
MAX_NUM_KAPPA = 1000
MAX_TRIALS = 100_000

Role = PlotRole  # a method's role in figures; default: its learner kind's ``plot_role``


MAX_RECORD = 1000


class Record(Config):
    """What is recorded along training (training dynamics; ``depthlab results --trajectories``)."""

    steps: int = Field(default=0, ge=0, le=MAX_RECORD, description="log-spaced training steps at which every "
                       "learner that trains by steps records its metrics (test and train loss, M_W, M_h per "
                       "branch, ...), the first and the last step among them, plus the initialisation; 0: none")


class PresetError(ValueError):
    """A preset name, override or value that cannot be used; the message names the field."""


class Preset(Config):
    """One experiment: a target, learners (methods), the grid n = int(d^kappa) over d and kappa, trials per
    cell, and the paper's checks and predictions. Built-in presets live in one module per paper; the same
    model read from a TOML / YAML / JSON file is an experiment file (``presets.files``)."""

    name: str = Field(description="the experiment's name: stored sweeps are found by it (results, check, report)")
    paper: str = Field(description="the paper it reproduces (e.g. dandi2025), or any label for one's own")
    description: str = Field(description="one line: what is compared, on which target")
    est_runtime: str = Field(default="unknown", description="wall time on 2 cores, as measured (free text)")
    target: TargetConfig = Field(description="the target function and input law, discriminated by family; its d "
                                 "is set per grid point (defaults to the first d)")
    methods: dict[str, LearnerConfig] = Field(description="method name -> learner configuration (discriminated by "
                                              "kind); the name is a label: numbers depend on the configuration only")
    d: int | list[int] = Field(description="input dimension(s) of the grid; exponent verdicts need >= 3")
    kappa_min: float = Field(description="smallest kappa of the grid, n = int(d^kappa) training samples")
    kappa_max: float = Field(description="largest kappa of the grid")
    num_kappa: int = Field(ge=1, le=MAX_NUM_KAPPA, strict=True, description="kappa values, evenly spaced in "
                           "[kappa_min, kappa_max] (repeated n merged)")
    trials: int = Field(ge=1, le=MAX_TRIALS, strict=True, description="independent trials (target, data, "
                        "initialisation) per cell; raising it later runs only the new ones")
    trial_block: int = Field(
        default=2, ge=1, le=64, strict=True,
        description="trials vmapped together in one compiled call. Trial t always runs in block t // B with "
        "trials B*(t//B) ... B*(t//B)+B-1 (computed, the unasked ones discarded), so its numbers never depend on "
        "how many trials were asked for; part of a cell's identity (a different block size changes the last "
        "float32 bits). Large cells use fewer if B trials exceed the memory budget ($DEPTHLAB_MEMORY_BUDGET).",
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1, strict=True, description="uint32 PRNG seed of the whole sweep")
    n_test: int = Field(default=1000, ge=1, le=MAX_SAMPLES, strict=True, description="fresh test samples per trial")
    precision: Literal["float32", "float64"] = Field(default="float32", description="floating-point precision")
    checks: list[CheckConfig] = Field(default_factory=list, description="the paper's claims as checks (kind: "
                                      "ordering, bound, rises, exponent_bound, ...; docs/CHECKS.md)")
    theory: dict[str, float] = Field(default_factory=dict, description="named kappa thresholds of the theory, "
                                     "drawn on the figures")
    threshold: Threshold = Field(default_factory=Threshold, description="defines n* (first n at which the median "
                                 "metric crosses it) for the exponents")
    predictions: dict[str, Prediction] = Field(default_factory=dict, description="method -> the paper's "
                                               "n* ~ d^s (each adds a measured-vs-predicted check)")
    record: Record = Field(default_factory=Record, description="training dynamics: the steps at which metrics "
                           "are recorded along training (a cell that records is a new cell; 0 keeps today's cells)")
    roles: dict[str, Role] = Field(
        default_factory=dict,
        description="method -> role, which sets its colour and marker in figures (default by learner kind); a "
        "label like the method's name: it changes no number",
    )

    @model_validator(mode="before")
    @classmethod
    def _target_d(cls, data: Any) -> Any:
        """The target's d is the grid's (per cell); where none is given, the first d of the grid."""
        if isinstance(data, dict) and isinstance(data.get("target"), dict) and "d" not in data["target"]:
            d = data.get("d")
            first = d[0] if isinstance(d, list) and d else d
            if isinstance(first, int):
                data = {**data, "target": {**data["target"], "d": first}}
        return data

    @field_validator("d")
    @classmethod
    def _d_valid(cls, v: int | list[int]) -> int | list[int]:
        ds = [v] if isinstance(v, int) else v
        if not ds:
            raise ValueError("d must name at least one dimension")
        if any(x < 2 or x > MAX_D for x in ds):
            raise ValueError(f"every d must be >= 2 and <= {MAX_D}, got {ds}")
        return v if isinstance(v, int) else list(dict.fromkeys(v))  # a repeated d is merged (first order kept)

    @field_validator("methods")
    @classmethod
    def _methods_nonempty(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not v:
            raise ValueError("a preset needs at least one method")
        return v

    @model_validator(mode="after")
    def _grid_valid(self) -> Preset:
        if self.kappa_min <= 0 or self.kappa_max < self.kappa_min:
            raise ValueError(f"need 0 < kappa_min <= kappa_max, got {self.kappa_min}, {self.kappa_max}")
        for d in self.ds:
            if self.kappa_max * np.log(d) > np.log(MAX_SAMPLES):
                raise ValueError(
                    f"kappa_max={self.kappa_max} gives n = {d}^{self.kappa_max} > {MAX_SAMPLES:.0e} training samples"
                )
            try:
                self.target_for(d)
            except ValidationError as e:
                raise ValueError(f"target invalid at d={d}: {format_validation_error(e)}") from None
            if min(self.ns(d)) < 2:
                raise ValueError(
                    f"kappa_min={self.kappa_min} gives n = int({d}^{self.kappa_min}) < 2 training samples"
                )
        names = set(self.methods)
        seen: dict[str, str] = {}
        for m, spec in self.methods.items():
            blob = json.dumps(spec.model_dump(mode="json", exclude={"max_n"}), sort_keys=True)
            if blob in seen:
                raise ValueError(f"methods {seen[blob]!r} and {m!r} are the same learner configuration (their "
                                 "numbers would be identical: a method's name is only a label); remove one")
            seen[blob] = m
        unknown_roles = sorted(set(self.roles) - names)
        if unknown_roles:
            raise ValueError(f"roles name unknown methods {unknown_roles}; have {sorted(names)}")
        for c in self.checks:
            used = getattr(c, "methods", None) or [getattr(c, "method", None)]
            unknown = [m for m in used if m is not None and m not in names]
            if unknown:
                raise ValueError(f"check {c.name!r} names unknown methods {unknown}; have {sorted(names)}")
            if isinstance(c, PredictionCheck) and c.method not in self.predictions:
                raise ValueError(f"check {c.name!r}: no prediction for method {c.method!r}")
        unknown = sorted(set(self.predictions) - names)
        if unknown:
            raise ValueError(
                f"predictions name unknown methods {unknown}; have {sorted(names)} (when removing methods, "
                "also set predictions, e.g. --set 'predictions={}')"
            )
        return self

    @property
    def method_roles(self) -> dict[str, str]:
        """Every method's role: declared in ``roles``, else the default of its learner kind."""
        return {m: self.roles.get(m) or spec.plot_role for m, spec in self.methods.items()}

    def threshold_for(self, method: str) -> Threshold:
        """How n* is defined for ``method``: its prediction's threshold, else the preset's."""
        pred = self.predictions.get(method)
        return pred.threshold if pred is not None and pred.threshold is not None else self.threshold

    def prediction_checks(self) -> list[PredictionCheck]:
        """One measured-vs-predicted check per prediction not already covered by a declared one."""
        declared = {c.method for c in self.checks if isinstance(c, PredictionCheck)}
        return [
            PredictionCheck(
                name=f"{m}: measured exponent vs prediction",
                method=m,
                description=f"{p.describe()}; {p.source}",
            )
            for m, p in self.predictions.items()
            if m not in declared
        ]

    def all_checks(self) -> list[CheckConfig]:
        return [*self.checks, *self.prediction_checks()]

    @property
    def ds(self) -> list[int]:
        return [self.d] if isinstance(self.d, int) else list(self.d)

    @property
    def kappas(self) -> np.ndarray:
        return np.linspace(self.kappa_min, self.kappa_max, self.num_kappa)

    def ns(self, d: int) -> list[int]:
        """Distinct n = int(d^kappa) on the kappa grid, increasing."""
        return sorted({int(v) for v in np.power(float(d), self.kappas)})

    def grid(self, d: int) -> list[tuple[float, int]]:
        """(kappa, n) pairs with distinct n (the first kappa giving each n)."""
        seen: dict[int, float] = {}
        for k in self.kappas:
            seen.setdefault(int(np.power(float(d), k)), float(k))
        return sorted((k, n) for n, k in seen.items())

    def target_for(self, d: int) -> TargetConfig:
        return type(self.target).model_validate({**self.target.model_dump(), "d": d})


def parse_value(raw: str) -> Any:
    """JSON if it parses (numbers, lists, true/false, null), comma list of values, else the string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        pass
    if "," in raw:
        return [parse_value(p.strip()) for p in raw.split(",") if p.strip()]
    return raw


def _uses(check: dict[str, Any]) -> set[str]:
    used = check.get("methods") or [check.get("method")]
    return {m for m in used if isinstance(m, str)}


def apply_overrides(preset: Preset, assignments: list[str], trials: int | None = None) -> Preset:
    """Return the preset with ``key.path=value`` assignments applied and re-validated. An override that
    replaces ``methods`` also drops the preset's checks and predictions naming methods no longer there
    (unless ``checks`` / ``predictions`` are overridden too)."""
    data = preset.model_dump()
    touched: set[str] = set()
    for a in assignments:
        if "=" not in a:
            raise PresetError(f"override {a!r} is not of the form key=value (e.g. d=48, methods.joint.lr=0.5)")
        path, raw = a.split("=", 1)
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise PresetError(f"override {a!r} has an empty key")
        node = data
        for i, k in enumerate(keys[:-1]):
            if not isinstance(node.get(k), dict):
                where = ".".join(keys[: i + 1])
                raise PresetError(f"override {a!r}: {where!r} is not a section of preset {preset.name!r}")
            node = node[k]
        node[keys[-1]] = parse_value(raw.strip())
        touched.add(keys[0])
        touched.add(".".join(keys))
    if "methods" in touched and isinstance(data.get("methods"), dict):
        names = set(data["methods"])
        if "checks" not in touched and isinstance(data.get("checks"), list):
            data["checks"] = [c for c in data["checks"] if not isinstance(c, dict) or _uses(c) <= names]
        if "predictions" not in touched and isinstance(data.get("predictions"), dict):
            data["predictions"] = {m: v for m, v in data["predictions"].items() if m in names}
        if "roles" not in touched and isinstance(data.get("roles"), dict):
            data["roles"] = {m: v for m, v in data["roles"].items() if m in names}
    if "d" in touched and "target.d" not in touched and isinstance(data.get("target"), dict):
        data["target"].pop("d", None)  # follows the grid's d
    if trials is not None:
        data["trials"] = trials
    try:
        return Preset.model_validate(data)
    except ValidationError as e:
        raise PresetError(f"invalid preset {preset.name!r}:\n{format_validation_error(e, data=data)}") from None
