"""benchmarks/zoo.py end to end at a tiny size: both halves run and report what they measured."""

import json

import benchmarks.zoo as zoo


def test_zoo_benchmark_runs_tiny_and_reports_both_zoos(tmp_path, capsys):
    out = tmp_path / "zoo.json"
    result = zoo.main(["--inr-n", "4", "--inr-shard", "2", "--inr-steps", "3", "--cnn-n", "3", "--cnn-steps", "2,4",
                       "--cnn-channels", "2,2", "--cnn-shard", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "fits / s" in printed and "networks / min" in printed and "ESTIMATE: 1000 CNNs" in printed
    assert result["inr_fits"] == 4 and result["cnn_networks"] == 3
    assert 2 * 3 <= result["cnn_network_steps_per_s"] * result["cnn_seconds"] <= 4 * 3  # steps drawn from 2..4
    assert json.loads(out.read_text())["cnn_networks"] == 3
