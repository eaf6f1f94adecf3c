"""Property tests: random and malformed configurations and --set overrides either give a valid preset or a
clear error naming the field; none raises anything else (no traceback reaches the user)."""

import json
import math

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from depthlab.cli import app
from depthlab.config import format_validation_error
from depthlab.presets import Preset, PresetError, apply_overrides, get_preset

QUICK = get_preset("quick")
runner = CliRunner()


def _paths(data, prefix=()):
    for k, v in data.items():
        yield ".".join((*prefix, k))
        if isinstance(v, dict):
            yield from _paths(v, (*prefix, k))


FIELD_PATHS = sorted(set(_paths(QUICK.model_dump())))
keys = st.one_of(
    st.sampled_from(FIELD_PATHS),
    st.sampled_from(FIELD_PATHS).map(lambda p: p + "x"),  # a typo of a real field
    st.from_regex(r"[a-z_]{1,8}(\.[a-z_0-9]{1,8}){0,3}", fullmatch=True),
    st.sampled_from(["", ".", "..", "d.", ".d", "methods..p1", "target.d.x", "trials.x", " d "]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _raw(v):
    try:
        return json.dumps(v, allow_nan=True)
    except (TypeError, ValueError):
        return str(v)


values = st.one_of(
    json_values.map(_raw),
    st.text(max_size=12),
    st.sampled_from(["1e400", "-1", "0", "nan", "inf", "1,2,", ",", "[", "{}", "[]", "32,64", "1e9", "2.5"]),
)
plausible = st.tuples(
    st.sampled_from(["d", "kappa_min", "kappa_max", "num_kappa", "trials", "seed", "n_test", "target.epsilon",
                     "methods.layerwise.p1", "methods.joint.lr", "methods.two_layer.p", "methods.kernel.ridge"]),
    st.one_of(st.integers(-2, 5000).map(str), st.floats(-1, 4, allow_nan=False).map(repr)),
).map(lambda kv: f"{kv[0]}={kv[1]}")
assignments = st.one_of(
    st.tuples(keys, values).map(lambda kv: f"{kv[0]}={kv[1]}"), st.text(max_size=15), plausible, plausible
)


def _names_the_field(msg: str, overrides: list[str]) -> bool:
    for a in overrides:
        if a in msg or repr(a) in msg:
            return True
        key = a.split("=", 1)[0]
        for part in key.split("."):
            part = part.strip()
            if part and (part in msg or repr(part) in msg):  # odd names are shown quoted
                return True
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(assignments, min_size=1, max_size=3), st.one_of(st.none(), st.integers(-5, 10**7)))
@example(["num_kappa=100000000"], None)  # once an 800 MB grid and a hang
@example(["kappa_max=1000"], None)  # once an OverflowError traceback
@example(["kappa_min=nan"], None)  # once an error that did not name the field
@example(["d=1e30"], None)
@example(["d=1000000000000000000000000000000"], None)
@example(["seed=100000000000000000000"], None)  # once accepted, then every cell failed
@example(["n_test=10000000000000"], None)
@example(["methods.layerwise.p1=1e30"], 10**9)
def test_overrides_either_validate_or_name_the_field(overrides, trials):
    try:
        p = apply_overrides(QUICK, overrides, trials)
    except PresetError as e:
        event("rejected")
        msg = str(e)
        assert msg and "Traceback" not in msg
        assert _names_the_field(msg, overrides) or (trials is not None and "trials" in msg), msg
        return
    event("valid")
    assert isinstance(p, Preset)
    # a preset that validates can be expanded into its grid and hashed
    from depthlab.sweep.executors import config_hash
    from depthlab.sweep.grid import expand

    assert len(expand(p)) >= 1 and len(config_hash(p)) == 32


def _mutate(data, path, value, delete):
    node = data
    for k in path[:-1]:
        node = node[k]
    if delete:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(FIELD_PATHS), json_values, st.booleans()), min_size=1, max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=2),
    st.dictionaries(st.sampled_from(["d", "kappa_min", "kappa_max", "num_kappa", "trials", "seed"]), json_values,
                    max_size=2),
)
@example([], {}, {"kappa_max": float("inf")})
@example([], {}, {"num_kappa": 10**12})
@example([], {"\r": None}, {})  # once a multi-line message
def test_config_dicts_either_validate_or_fail_with_field_locations(mutations, extra, overrides):
    data = QUICK.model_dump()
    for path, value, delete in mutations:
        try:
            _mutate(data, path.split("."), value, delete)
        except (KeyError, TypeError, AttributeError):
            pass  # an earlier mutation replaced a parent section
    data.update({k: v for k, v in extra.items() if k not in data})
    data.update(overrides)
    try:
        p = Preset.model_validate(data)
    except ValidationError as e:
        event("rejected")
        text = format_validation_error(e)
        assert text and all(": " in line for line in text.splitlines()), text
        return
    event("valid")
    assert all(math.isfinite(k) for k in p.kappas)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(assignments, min_size=1, max_size=2))
@example(["num_kappa=100000000"])
@example(["kappa_max=1000"])
@example(["d=[2, 3]", "kappa_min=0.5"])
def test_cli_run_dry_run_never_crashes(tmp_path, overrides):
    args = ["run", "quick", "--dry-run", "--store", str(tmp_path / "p.sqlite")]
    for a in overrides:
        args += ["--set", a]
    res = runner.invoke(app, args, terminal_width=200)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in (0, 2), res.output
    event(f"exit {res.exit_code}")
    if res.exit_code == 2:
        assert "error:" in res.output and _names_the_field(res.output, overrides), res.output
    else:
        assert "projected time" in res.output
