"""Zoo storage and image selection: shard checksums, refusing foreign folders, stratified limits, `zoo show`."""

import hashlib
import json

import numpy as np
import pytest

import symm.cli
from models.zoo import ZooFormatError, load_source, load_zoo
from models.zoo._sources import ImageSource, select_images
from models.zoo._storage import ShardWriter, layout_entry

LAYOUT = {"W0": layout_entry((3, 2), np.float32), "split": layout_entry((), np.int8),
          "source_index": layout_entry((), np.int64)}
GENERATOR = {"source": {"name": "toy", "n": 100, "shape": [2, 2, 1], "sha256": "0" * 64},
             "images": {"n": 5, "of": 100, "method": "stratified by label", "seed": 0, "sha256": "1" * 64},
             "architecture": {"type": "mlp", "sizes": [2, 3], "activations": ["relu"]}}


def _write_zoo(directory, n=5, shard_size=2):
    writer = ShardWriter(directory, kind="inr", generator=GENERATOR, layout=LAYOUT, n=n, shard_size=shard_size)
    for index in writer.pending():
        rows = writer.rows(index)
        writer.write(index, {"W0": np.full((len(rows), 3, 2), index + 0.5, np.float32),
                             "split": np.zeros(len(rows), np.int8),
                             "source_index": np.arange(rows.start, rows.stop, dtype=np.int64) * 7})
    return writer


def test_manifest_records_the_checksum_of_every_shard(tmp_path):
    _write_zoo(tmp_path / "zoo")
    manifest = json.loads((tmp_path / "zoo" / "manifest.json").read_text())
    assert sorted(manifest["checksums"]) == ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]
    for name, digest in manifest["checksums"].items():
        assert hashlib.sha256((tmp_path / "zoo" / name).read_bytes()).hexdigest() == digest
    assert len(load_zoo(tmp_path / "zoo")) == 5


def test_weights_overwritten_with_nan_are_caught_by_load_and_show(tmp_path, capsys):
    """A valid .npz with the right layout but other values (NaN weights) passes every layout
    check; only the checksum catches it."""
    _write_zoo(tmp_path / "zoo")
    shard = tmp_path / "zoo" / "shard-00001.npz"
    with np.load(shard) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["W0"] = np.full_like(arrays["W0"], np.nan)
    np.savez(shard, **arrays)
    with pytest.raises(ZooFormatError, match="shard-00001.npz: checksum mismatch"):
        load_zoo(tmp_path / "zoo")
    assert symm.cli.main(["zoo", "show", str(tmp_path / "zoo")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checksum mismatch" in err
    # Resuming refuses to skip over it too.
    with pytest.raises(ZooFormatError, match="checksum mismatch"):
        _write_zoo(tmp_path / "zoo")


def test_a_shard_without_a_recorded_checksum_is_refused(tmp_path):
    _write_zoo(tmp_path / "zoo")
    manifest_path = tmp_path / "zoo" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["checksums"]["shard-00002.npz"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ZooFormatError, match="shard-00002.npz: no checksum recorded"):
        load_zoo(tmp_path / "zoo")


def test_an_older_zoo_without_checksums_loads_and_resumes_with_them(tmp_path):
    writer = _write_zoo(tmp_path / "zoo")
    manifest_path = tmp_path / "zoo" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["checksums"]
    manifest_path.write_text(json.dumps(manifest))
    (tmp_path / "zoo" / "shard-00002.npz").unlink()
    assert len(load_zoo(tmp_path / "zoo", allow_partial=True)) == 4
    _write_zoo(tmp_path / "zoo")  # resume: adopts the old shards' checksums, writes the missing one
    resumed = json.loads(manifest_path.read_text())["checksums"]
    assert sorted(resumed) == sorted(writer.checksums) and len(load_zoo(tmp_path / "zoo")) == 5


def test_a_new_zoo_is_not_written_among_unrelated_files(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ZooFormatError, match=r"not empty and not a zoo \(it holds thesis.tex\)"):
        _write_zoo(tmp_path / "mine")
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["thesis.tex"]
    assert symm.cli.main(["zoo", "inr", "--source", "digits", "--out", str(tmp_path / "mine"), "--steps", "1"]) == 2
    assert "not empty and not a zoo" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    _write_zoo(tmp_path / "empty")  # an empty folder is fine
    assert len(load_zoo(tmp_path / "empty")) == 5


def test_zoo_show_reports_the_zoo_s_own_image_count(tmp_path, capsys):
    _write_zoo(tmp_path / "zoo")
    assert symm.cli.main(["zoo", "show", str(tmp_path / "zoo")]) == 0
    out = capsys.readouterr().out
    assert "images: 5 of toy's 100 (stratified by label, seed 0)" in out
    assert "(100 images)" not in out


def test_limit_draws_every_class_of_a_label_sorted_source():
    """MNIST-5k is sorted by label: the first 64 images are all zeros. The limited subset is
    stratified, seeded, and recorded."""
    mnist = load_source("mnist5k")
    assert set(mnist.labels[:64].tolist()) == {0}  # why "the first N" is wrong
    chosen, record = select_images(mnist, 64, seed=0)
    counts = np.bincount(mnist.labels[chosen], minlength=10)
    assert counts.sum() == 64 and counts.min() >= 6 and counts.max() <= 7
    assert len(set(chosen.tolist())) == 64 and np.all(np.diff(chosen) > 0)
    assert record == {"n": 64, "of": 5000, "method": "stratified by label", "seed": 0,
                      "sha256": hashlib.sha256(chosen.astype(np.int64).tobytes()).hexdigest()}
    again, _ = select_images(mnist, 64, seed=0)
    other, other_record = select_images(mnist, 64, seed=1)
    np.testing.assert_array_equal(again, chosen)
    assert not np.array_equal(other, chosen) and other_record["sha256"] != record["sha256"]
    whole, whole_record = select_images(mnist, None)
    assert len(whole) == 5000 and whole_record["method"] == "all"
    assert select_images(mnist, 9000)[1]["method"] == "all"
    with pytest.raises(ValueError, match="limit must be >= 1"):
        select_images(mnist, 0)


def test_limit_on_unlabelled_and_uneven_classes():
    labels = np.array([-1] * 10 + [3] * 2, np.int64)
    source = ImageSource("toy", np.zeros((12, 2, 2, 1), np.float32), labels)
    chosen, _ = select_images(source, 6, seed=0)
    assert sorted(labels[chosen].tolist()) == [-1, -1, -1, -1, 3, 3]  # the small class is taken whole


def test_inr_manifest_records_the_selection():
    from models.zoo import InrZooConfig
    from models.zoo._inr_zoo import inr_generator

    digits = load_source("digits")
    images = inr_generator(InrZooConfig(limit=20, split_seed=3), digits)["images"]
    assert images["n"] == 20 and images["of"] == 1797 and images["seed"] == 3
    assert images["sha256"] == select_images(digits, 20, 3)[1]["sha256"]
