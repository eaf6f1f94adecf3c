"""Experiments as files: every preset round-trips through TOML / YAML / JSON, a written file runs unchanged
(the same cells as the preset it came from), stored sweeps are found without the file, bad files get one-line
errors naming the file and the line or field, and the schema documents every field."""

import json

import pytest
from typer.testing import CliRunner

from depthlab.cli import app
from depthlab.presets import PresetError, all_presets, apply_overrides, get_preset
from depthlab.presets.files import dump_experiment, load_experiment

runner = CliRunner()

SMALL = ["d=8", "kappa_min=1.0", "kappa_max=1.6", "num_kappa=2", "n_test=100", "trials=2",
         'methods={"two_layer": {"kind": "two_layer", "p": 8, "t_coef": 0.5}, '
         '"kernel": {"kind": "kernel", "kernel": "polynomial", "degree": 2}}']


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


@pytest.mark.parametrize("fmt", ["toml", "yaml", "json"])
def test_every_preset_round_trips(tmp_path, fmt):
    for p in all_presets():
        path = tmp_path / f"{p.name}.{fmt}"
        path.write_text(dump_experiment(p, fmt))
        assert load_experiment(path) == p, p.name


def test_an_absolute_threshold_survives_toml(tmp_path):
    """TOML has no null: a None that is not the default is written "none" and read back as None."""
    p = get_preset("nichani2023-single-index")
    assert p.threshold.relative_to is None
    text = dump_experiment(p, "toml")
    assert 'relative_to = "none"' in text
    path = tmp_path / "n.toml"
    path.write_text(text)
    assert load_experiment(path).threshold.relative_to is None


def test_a_written_file_runs_unchanged_and_is_found_without_it(tmp_path):
    store = tmp_path / "s.sqlite"
    res = runner.invoke(app, ["run", "quick", *_sets(SMALL), "--store", str(store)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["show", "quick", *_sets(SMALL), "--format", "toml"])
    assert res.exit_code == 0, res.output
    path = tmp_path / "mine.toml"
    path.write_text(res.stdout)
    res = runner.invoke(app, ["run", str(path), "--store", str(store)])
    assert res.exit_code == 0 and "nothing to do" in res.output, res.output  # the same cells, already stored
    # the file's own experiment under its own name, with a check written in the file
    import tomllib

    import tomli_w

    data = tomllib.loads(path.read_text())
    data["name"] = "mine"
    data["checks"] = [{"kind": "bound", "name": "kernel error below 10", "method": "kernel", "metric": "test_mse",
                       "op": "<", "value": 10.0}]
    path.write_text(tomli_w.dumps(data))
    res = runner.invoke(app, ["run", str(path), "--store", str(store)])
    assert res.exit_code == 0 and "nothing to do" in res.output, res.output  # renaming the experiment: same cells
    res = runner.invoke(app, ["check", str(path), "--store", str(store)])
    assert "kernel error below 10" in res.output and "PASS" in res.output, res.output
    path.unlink()  # the store keeps the configuration: results and checks work by name without the file
    res = runner.invoke(app, ["results", "--preset", "mine", "--store", str(store), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert {r["method"] for r in rows} == {"two_layer", "kernel"} and {r["preset"] for r in rows} == {"mine"}
    res = runner.invoke(app, ["check", "mine", "--store", str(store)])
    assert "kernel error below 10" in res.output, res.output


def test_overrides_apply_on_top_of_a_file(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text(dump_experiment(get_preset("quick"), "yaml"))
    res = runner.invoke(app, ["show", str(path), "--set", "d=48", "--set", "trials=3"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.stdout)
    assert shown["d"] == 48 and shown["trials"] == 3 and shown["target"]["d"] == 48


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", 'name = "x"\npaper = \n', r"bad\.toml: invalid TOML: .*line 2"),
        ("bad.yaml", "name: x\n  paper: [\n", r"bad\.yaml:\d+: invalid YAML"),
        ("bad.json", '{"name": "x",\n "paper": }', r"bad\.json:2: invalid JSON"),
        ("list.json", "[1, 2]", "holds one preset"),
    ],
)
def test_syntax_errors_name_the_file_and_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PresetError, match=message):
        load_experiment(path)


def test_bad_values_name_the_field(tmp_path):
    base = dump_experiment(get_preset("quick"), "toml")
    cases = {
        "methods.kernel.degre": base.replace("degree = 2", "degre = 2"),  # unknown key
        "num_kappa": base.replace("num_kappa = 7", "num_kappa = 0"),
        "threshold.metric": base.replace('metric = "test_mse"\nop', 'metric = "test_mes"\nop', 1),
    }
    for field, text in cases.items():
        path = tmp_path / "x.toml"
        path.write_text(text)
        with pytest.raises(PresetError) as err:
            load_experiment(path)
        assert str(path) in str(err.value) and field in str(err.value), (field, str(err.value))
    res = runner.invoke(app, ["run", str(tmp_path / "missing.toml")])
    assert res.exit_code == 2 and "cannot read experiment file" in res.output


def test_schema_documents_every_field():
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0, res.output
    schema = json.loads(res.stdout)
    assert schema["title"] == "depthlab experiment" and "methods" in schema["required"]
    assert all(v.get("description") for v in schema["properties"].values())


def test_renaming_leaves_overrides_of_the_file_valid():
    p = apply_overrides(get_preset("quick"), ["name=mine"])
    assert p.name == "mine" and p.methods == get_preset("quick").methods


def test_public_api_names_resolve_and_no_private_name_crosses_a_module():
    import ast
    from pathlib import Path

    import depthlab

    assert all(getattr(depthlab, n) is not None for n in depthlab.__all__)
    assert depthlab.experiment("quick", ["d=48"]).d == 48
    src = Path(depthlab.__file__).parent
    crossing = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("depthlab"):
                crossing += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                             if a.name.startswith("_") and a.name != "__version__"]
    assert crossing == []
