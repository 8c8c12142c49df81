"""benchmarks/tasks.py builds only the zoos its tasks read, and its with / without table is the mean of each side."""

import pytest

import benchmarks.tasks as tasks


def test_only_the_zoos_of_the_chosen_tasks_are_built(monkeypatch, tmp_path):
    built = []
    monkeypatch.setattr(tasks, "load_source", lambda name: name)
    monkeypatch.setattr(tasks, "build_inr_zoo", lambda source, out, config: built.append(("inr", out.name)))
    monkeypatch.setattr(tasks, "build_cnn_zoo", lambda source, out, config: built.append(("cnn", out.name)))
    scale = tasks.SCALES["tiny"]
    assert tasks.build_zoos(scale, tmp_path, ("classify", "edit")) == {"inr": tmp_path / "zoo-inr"}
    assert built == [("inr", "zoo-inr")]
    built.clear()
    assert tasks.build_zoos(scale, tmp_path, ("generalisation",)) == {"cnn": tmp_path / "zoo-cnn"}
    assert built == [("cnn", "zoo-cnn")]
    built.clear()
    assert set(tasks.build_zoos(scale, tmp_path)) == {"inr", "cnn"} and len(built) == 2


def test_canonical_table_puts_each_setting_in_its_own_column():
    records = [{"task": "classify", "metric": "accuracy", "model": "mlp", "test": t, **extra}
               for t, extra in ((0.5, {}), (0.7, {}), (0.2, {"canonicalise": True}))]
    rows = tasks.canonical_table(records).splitlines()
    assert rows[2] == "| classify (accuracy) | mlp | 2/1 | 0.600 ± 0.100 | 0.200 ± 0.000 |"


def test_bad_task_names_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        tasks.main(["--tasks", "classify,clasify"])
    assert exit_.value.code == 2 and "unknown task or model 'clasify'" in capsys.readouterr().err
