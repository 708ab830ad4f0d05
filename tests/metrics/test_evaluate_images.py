"""`gankit evaluate RUN` on image runs, end to end on a tiny trained run."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.metrics import distances
from gankit.metrics import evaluate as ev
from gankit.metrics import inception

from kit import TINY, cli


def write_images(folder: Path, n: int = 24, size: int = 32) -> Path:
    """Coloured squares on black at random places: a small image folder."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(n):
        a = np.zeros((size, size, 3), np.uint8)
        x, y = rng.integers(2, size - 12, 2)
        a[y:y + 10, x:x + 10] = rng.integers(40, 256, 3)
        Image.fromarray(a).save(folder / f"{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny DCGAN run on a folder of 24 images, trained through the CLI."""
    root = tmp_path_factory.mktemp("evaluate")
    data = write_images(root / "images")
    res = cli("--quiet", "train", "dcgan", "--data", data, *TINY, "--steps", "4",
              "--out", root / "runs", "--name", "tiny")
    assert res.exit_code == 0, res.stderr
    return root / "runs" / "tiny", data


@pytest.fixture
def run(trained, tmp_path, monkeypatch):
    """A fresh copy of the trained run (tests write into it) and a private cache."""
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    src, data = trained
    dst = tmp_path / "run"
    shutil.copytree(src, dst)
    return dst, data


def test_evaluate_image_run_json_eval_file_and_picture(run):
    run_dir, _ = run
    res = cli("evaluate", run_dir, "--json", "-n", "64")
    assert res.exit_code == 0, res.stderr
    d = json.loads(res.stdout)
    m = d["metrics"]
    assert d["samples"] == 64 and d["step"] == 4 and d["model"] == "dcgan" and d["seed"] == 0
    assert d["feature_space"] == "gankit-randconv-v1" and d["data"]["images"] == 24
    assert d["checkpoint"].endswith("step-0000004.safetensors")
    assert d["swd_resolutions"] == [32, 16]
    assert m["swd"] == pytest.approx((m["swd_32"] + m["swd_16"]) / 2)
    for key in ("swd", "kid", "kid_std", "fd", "precision", "recall", "memorisation"):
        assert isinstance(m[key], float) and np.isfinite(m[key]), key
    for key in ("precision", "recall", "memorisation"):
        assert 0.0 <= m[key] <= 1.0
    assert "fid" not in m
    # an untrained generator is far from the data
    assert m["swd"] > 50 and m["fd"] > 1 and m["memorisation"] == 0.0
    assert len(d["nearest"]["train_index"]) == 64 and len(d["memorisation"]["closest"]) == 16
    closest = d["memorisation"]["closest"]
    assert [c["distance"] for c in closest] == sorted(c["distance"] for c in closest)
    assert closest[0]["distance"] == pytest.approx(min(d["nearest"]["distance"]), abs=1e-5)
    assert closest[0]["train_name"].endswith(".png")

    eval_file = run_dir / "metrics" / "eval-step-0000004.json"
    assert Path(d["eval_file"]) == eval_file
    saved = json.loads(eval_file.read_text())
    assert saved == {k: v for k, v in d.items() if k != "eval_file"}
    assert {"run", "checkpoint", "model", "step", "time", "samples", "metrics",
            "feature_space"} <= set(saved)
    picture = run_dir / "metrics" / "closest-step-0000004.png"
    assert Path(d["memorisation"]["picture"]) == picture
    with Image.open(picture) as im:
        # 16 pairs, 8 cells of 32 px a row (2 px padding): 4 rows with a label line each
        assert im.width == 8 * 34 + 2 and im.height > 4 * 34
    assert not list((run_dir / "metrics").glob(".*tmp"))


def test_evaluate_is_deterministic_and_caches_the_training_features(run, tmp_path):
    run_dir, _ = run
    a = json.loads(cli("evaluate", run_dir, "--json", "-n", "32").stdout)
    cached = list((tmp_path / "cache" / "metrics").glob("gankit-randconv-v1-*.safetensors"))
    assert len(cached) == 1
    b = json.loads(cli("evaluate", run_dir, "--json", "-n", "32").stdout)
    c = json.loads(cli("evaluate", run_dir, "--json", "-n", "32", "--seed", "5").stdout)
    assert a["metrics"] == b["metrics"] and a["nearest"] == b["nearest"]
    assert c["metrics"] != a["metrics"] and c["memorisation"]["closest"][0]["seed"] >= 5


def test_evaluate_prints_a_table(run):
    run_dir, _ = run
    res = cli("--quiet", "evaluate", run_dir, "-n", "16")
    assert res.exit_code == 0, res.stderr
    for text in ("SWD", "KID", "precision", "recall", "memorisation", "closest pairs",
                 "eval-step-0000004.json"):
        assert text in res.stdout, text
    assert res.stderr == ""  # --quiet: no progress bars


def test_evaluate_finds_moved_training_data_with_data_flag(run, tmp_path):
    run_dir, data = run
    moved = tmp_path / "moved"
    shutil.copytree(data, moved)
    options = json.loads((run_dir / "config.json").read_text())["options"]
    assert options["data"] == str(data)
    # the checkpoint remembers the original folder: point it elsewhere by hiding it
    hidden = data.with_name("hidden")
    data.rename(hidden)
    try:
        res = cli("evaluate", run_dir, "-n", "16")
        assert res.exit_code == 1 and "--data PATH" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        res = cli("evaluate", run_dir, "-n", "16", "--data", moved, "--json")
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout)["data"]["path"] == str(moved)
    finally:
        hidden.rename(data)


@pytest.mark.parametrize("args,code,text", [
    (["-n", "0"], 2, "-n must be at least 1"),
    (["-n", "60000"], 2, "at most 50000"),
    (["-n", "2"], 2, "at least 4"),
    (["--min-count", "3"], 2, "--min-count is for 2-D runs"),
    (["--inception-weights", "w.pth"], 2, "add --fid"),
    (["--fid", "--inception-weights", "nope.pth"], 2, "--inception-weights nope.pth: no such file"),
    (["--dataset", "nope"], 1, "unknown"),
])
def test_bad_input_is_one_line(run, args, code, text):
    run_dir, _ = run
    res = cli("evaluate", run_dir, *args)
    assert res.exit_code == code, res.stderr
    assert text in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr
    assert not (run_dir / "metrics").exists()


def test_unknown_run_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli("evaluate", tmp_path / "nope", "--fid")
    assert res.exit_code == 1 and "no such run" in res.stderr


# -- FID -----------------------------------------------------------------------------------------


def stand_in_extractor(calls):
    """Deterministic 12-number features: mean colour and its 2x2 layout."""
    def extract(images, progress=None):
        calls.append(images.clone())
        x = images.float() / 255
        return torch.cat([x.mean(dim=(2, 3)),
                          torch.nn.functional.adaptive_avg_pool2d(x.mean(1, keepdim=True), 3).flatten(1)], 1)

    return extract


def test_fid_path_with_a_stand_in_extractor(run, monkeypatch):
    run_dir, _ = run
    calls, asked = [], []

    def fake_loader(weights=None, device="cpu"):
        asked.append(weights)
        return stand_in_extractor(calls), "stand-in-space"

    monkeypatch.setattr(inception, "load_extractor", fake_loader)
    Path("w.pth").write_bytes(b"not used by the stand-in")
    res = cli("--quiet", "evaluate", run_dir, "--json", "-n", "40", "--fid",
              "--inception-weights", "w.pth")
    assert res.exit_code == 0, res.stderr
    d = json.loads(res.stdout)
    assert asked == ["w.pth"] and d["inception_space"] == "stand-in-space"
    real, fake = calls  # training images first (then cached), then the samples
    assert real.shape == (24, 3, 32, 32) and fake.shape == (40, 3, 32, 32)
    extract = stand_in_extractor([])
    fr, ff = extract(real), extract(fake)
    assert d["metrics"]["fid"] == pytest.approx(distances.frechet_distance(fr, ff), rel=1e-9)
    assert d["metrics"]["kid_inception"] == pytest.approx(distances.kid(fr, ff)[0], rel=1e-9)
    table = cli("--quiet", "evaluate", run_dir, "-n", "40", "--fid", "--inception-weights", "w.pth")
    assert "FID (Inception)" in table.stdout
    assert len(calls) == 3  # the training images' features came from the cache


def test_fid_without_the_extra_names_the_install(run, monkeypatch):
    run_dir, _ = run
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import fails
    res = cli("evaluate", run_dir, "-n", "16", "--fid")
    assert res.exit_code == 1
    assert 'pip install "gankit[metrics]"' in res.stderr and "FID needs" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (run_dir / "metrics").exists()
    # the download-free metrics do not need it
    assert cli("--quiet", "evaluate", run_dir, "-n", "16").exit_code == 0


def test_fid_offline_without_weights_asks_for_the_file(run, monkeypatch, tmp_path):
    pytest.importorskip("torch_fidelity")
    run_dir, _ = run
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    res = cli("evaluate", run_dir, "-n", "16", "--fid")
    assert res.exit_code == 1 and "pass --inception-weights FILE" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_inception_weights_load_without_unpickling_code(tmp_path):
    """A state-dict file of the right shapes drives torch-fidelity's real network; a file
    that would need to run code is refused with one line."""
    module = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    original = module.FeatureExtractorInceptionV3.load_state_dict
    module.FeatureExtractorInceptionV3.load_state_dict = lambda self, *a, **k: None
    try:
        net = inception.build({})  # random weights, just for the shapes
    finally:
        module.FeatureExtractorInceptionV3.load_state_dict = original
    good = tmp_path / "weights.pth"
    torch.save(net.state_dict(), good)  # a plain state dict of tensors, like the real file
    extract, space = inception.load_extractor(good)
    f = extract(torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8))
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and space.startswith("inception-v3-2048-")

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    bad = tmp_path / "bad.pth"
    torch.save({"x": Payload()}, bad)
    with pytest.raises(Exception, match="not a PyTorch state dict of tensors"):
        inception.load_extractor(bad)


def real_inception_weights():
    import os

    for p in (os.environ.get("GANKIT_INCEPTION_WEIGHTS"),
              Path(torch.hub.get_dir()) / "checkpoints" / inception.FILE_NAME):
        if p and Path(p).is_file():
            return Path(p)
    return None


@pytest.mark.skipif(real_inception_weights() is None,
                    reason="needs the Inception weights (no internet here): set "
                           "GANKIT_INCEPTION_WEIGHTS to weights-inception-2015-12-05-6726825d.pth")
def test_fid_agrees_with_torch_fidelity_on_the_real_weights():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    weights = real_inception_weights()
    extract, _ = inception.load_extractor(weights)
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (24, 3, 32, 32), generator=g, dtype=torch.uint8)
    b = (a.float() * 0.5).to(torch.uint8)
    fa, fb = extract(a), extract(b)
    theirs = fid_statistics_to_metric(fid_features_to_statistics(fa), fid_features_to_statistics(fb),
                                      verbose=False)["frechet_inception_distance"]
    assert distances.frechet_distance(fa, fb) == pytest.approx(theirs, rel=1e-4)


def test_eval_paths_follow_the_run_contract(tmp_path):
    assert ev.eval_path(tmp_path, 1234) == tmp_path / "metrics" / "eval-step-0001234.json"
    assert ev.picture_path(tmp_path, 5).name == "closest-step-0000005.png"


def test_vector_runs_keep_their_2d_evaluation_and_refuse_image_flags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli("--quiet", "train", "vanilla", "--dataset", "ring8", "--steps", "2",
              "--batch-size", "16", "--name", "ring")
    assert res.exit_code == 0, res.stderr
    d = json.loads(cli("evaluate", "runs/ring", "--json").stdout)
    assert d["samples"] == 2500 and d["modes"] == 8 and "metrics" not in d  # the 2-D report
    for args in (["--fid"], ["--data", "x"], ["--dataset", "sushi"], ["--no-cache"]):
        res = cli("evaluate", "runs/ring", *args)
        assert res.exit_code == 2 and "is for image runs" in res.stderr, args
    assert not Path("runs/ring/metrics").exists()
