"""Class-conditional generation: labels in the data, through the batcher, the conditional
DCGAN, `--class` on sample and interpolate, and the bad inputs of each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit.testing as gt
from gankit import Data, DataSpec, checkpoints as ckpt
from gankit.train import TrainOptions
from gankit.train.batcher import Batcher

from kit import ROOT, prepare

KINDS = ("apple", "kiwi", "plum")
TINY_C = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--set", "z_dim=8",
          "--batch-size", "4"]


def labelled_folder(root: Path, per_class=(4, 4, 4), kinds=KINDS, loose: int = 0) -> Path:
    """One subfolder per kind; kind k's pictures are a bright square at a k-dependent
    place (plus noise), so they differ by class."""
    rng = np.random.default_rng(0)
    for k, (kind, n) in enumerate(zip(kinds, per_class)):
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = rng.integers(0, 40, (32, 32), dtype=np.uint8)
            a[4 + 8 * k:12 + 8 * k, 8:24] = 230
            Image.fromarray(a).save(root / kind / f"{i}.png")
    for i in range(loose):
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(root / f"x{i}.png")
    return root


@pytest.fixture
def quiet():
    from gankit import console

    console.set_quiet(True)


# -- labels in the data ----------------------------------------------------------------------

def test_folder_labels_auto_folders_none(tmp_path, plugins):
    from gankit.dataload import load_data

    root = labelled_folder(tmp_path / "fruit", (3, 2, 4))
    model = plugins.models().get("dcgan")

    def load(labels):
        o = TrainOptions(image_size=32, labels=labels, extra={"cache": False})
        return load_data(plugins, model, o, path=str(root), name=None)

    d = load("auto")
    assert d.classes == list(KINDS) and d.class_counts() == [3, 2, 4]
    assert [d.classes[int(v)] for v in d.labels] == [n.split("/")[0] for n in d.names]
    assert load("folders").labelled and not load("none").labelled
    flat = labelled_folder(tmp_path / "mixed", (2, 2, 2), loose=1)
    o = TrainOptions(image_size=32, labels="auto", extra={"cache": False})
    assert not load_data(plugins, model, o, path=str(flat), name=None).labelled  # a loose image
    o.labels = "folders"
    with pytest.raises(Exception, match=r"--labels folders: 1 image\(s\) sit directly"):
        load_data(plugins, model, o, path=str(flat), name=None)


def test_sushi_kinds_and_dataset_listing(plugins, run_cli):
    from gankit.dataload import load_data

    o = TrainOptions(image_size=32, data_options={"count": "12"})
    d = load_data(plugins, plugins.models().get("dcgan"), o, path=None, name="sushi")
    assert d.classes == ["salmon", "tuna", "tamago", "shrimp", "eel"]
    assert [d.classes[int(v)] for v in d.labels] == [n.split("-", 1)[1] for n in d.names]
    r = run_cli("list-datasets", "--json")
    ds = {x["name"]: x for x in json.loads(r.stdout)}
    assert ds["sushi"]["classes"][:2] == ["salmon", "tuna"] and len(ds["mnist"]["classes"]) == 10


def test_mnist_and_cifar_label_files(tmp_path):
    import struct

    from gankit_datasets.images import load_cifar10, load_mnist_labels

    labels = bytes([3, 1, 4])
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, 3) + labels)
    assert load_mnist_labels(tmp_path, count=3).tolist() == [3, 1, 4]
    assert load_mnist_labels(tmp_path / "nowhere") is None
    with pytest.raises(Exception, match="3 labels for 5 images"):
        load_mnist_labels(tmp_path, count=5)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for i in range(1, 6):
        rec = np.zeros((2, 3073), np.uint8)
        rec[:, 0] = [i, 9]
        rec.tofile(folder / f"data_batch_{i}.bin")
    x, y = load_cifar10(tmp_path, with_labels=True)
    assert x.shape == (10, 32, 32, 3) and y.tolist() == [1, 9, 2, 9, 3, 9, 4, 9, 5, 9]


def test_data_check_counts_classes(tmp_path, run_cli):
    root = labelled_folder(tmp_path / "fruit", (30, 2, 1))
    r = run_cli("data", "check", str(root), "--json")
    report = json.loads(r.stdout)
    assert report["classes"] == {"apple": 30, "kiwi": 2, "plum": 1}
    assert any("imbalanced" in w for w in report["warnings"])
    assert any("plum" in w and "fewer than 2" in w for w in report["warnings"])


def test_datasets_export_keeps_class_subfolders(tmp_path, run_cli):
    r = run_cli("datasets", "export", "sushi", str(tmp_path / "out"), "--image-size", "32")
    assert r.exit_code == 0, r.output
    subs = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert subs == sorted(["salmon", "tuna", "tamago", "shrimp", "eel"])
    assert not list((tmp_path / "out").glob("*.png"))
    assert sum(len(list((tmp_path / "out" / s).glob("*.png"))) for s in subs) == 256


# -- the batcher -------------------------------------------------------------------------------

def _coded(n=10, k=3):
    """Images whose pixels hold their own index, labels i mod k."""
    x = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    x[:, :, :, 0] = 0  # a left column, so a flip shows
    return Data(samples=x, spec=DataSpec("image", 1, 4), labels=torch.arange(n) % k,
                classes=[f"c{i}" for i in range(k)])


def test_batcher_labels_follow_images_flips_and_resume():
    d = _coded()
    plain = Data(samples=d.samples, spec=d.spec)
    a = Batcher(d, 4, torch.device("cpu"), 5, True, False)
    b = Batcher(plain, 4, torch.device("cpu"), 5, True, False)
    for _ in range(7):  # epochs roll over
        x, y = a.next_labelled()
        assert torch.equal(x, b.next())  # same order and flips as without labels
        idx = ((x[:, 0, 0, 1] + 1) * 127.5).round().long()
        assert torch.equal(y, idx % 3) and y.dtype == torch.int64
    state = a.state_dict()
    after = [a.next_labelled() for _ in range(3)]
    c = Batcher(d, 4, torch.device("cpu"), 99, True, False)
    c.load_state_dict(state)
    for x, y in after:
        x2, y2 = c.next_labelled()
        assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(Exception, match="no class labels"):
        b.next_labelled()


def test_balance_classes_draws_classes_equally():
    n = 400
    labels = (torch.arange(n) >= 360).long()  # 360 of class 0, 40 of class 1
    d = Data(samples=torch.zeros(n, 1, 4, 4, dtype=torch.uint8), spec=DataSpec("image", 1, 4),
             labels=labels, classes=["big", "small"])
    seen = torch.cat([Batcher(d, 50, torch.device("cpu"), 0, False, False,
                              balance=True).next_labelled()[1] for _ in range(1)]
                     + [y for _, y in (Batcher(d, 50, torch.device("cpu"), s, False, False,
                                                balance=True).next_labelled() for s in range(8))])
    share = float(seen.float().mean())
    assert 0.35 < share < 0.65, share  # about half, not 10 %


# -- the conditional model ---------------------------------------------------------------------

def test_check_model_conditional_dcgan(quiet, tmp_path):
    out = gt.check_model("dcgan", spec=DataSpec("image", 1, 32), conditional=True,
                         sets={"ngf": 4, "ndf": 4, "z_dim": 8}, workdir=tmp_path)
    shapes = ckpt.Checkpoint(out["checkpoint"]).shapes("s.nets.")
    assert shapes["G.embed.weight"] == (3, 8) and shapes["D.embed.weight"][0] == 3


def test_check_model_conditional_batch_norm(quiet, tmp_path):
    out = gt.check_model("dcgan", spec=DataSpec("image", 1, 32), conditional=True,
                         sets={"ngf": 4, "ndf": 4, "z_dim": 8, "g_cond": "cbn"},
                         workdir=tmp_path)
    shapes = ckpt.Checkpoint(out["checkpoint"]).shapes("s.nets.")
    gains = [k for k in shapes if k.startswith("G.") and k.endswith(".gain.weight")]
    assert gains and all(shapes[k][0] == 3 for k in gains)  # a scale per class, every norm
    assert "G.embed.weight" not in shapes


def test_conditional_batch_norm_classes_and_mixes():
    from gankit_dcgan.nets import CBNGenerator

    torch.manual_seed(0)
    g = CBNGenerator(8, 3, 1, 32, 4, 8, 0)
    for m in g.modules():  # classes that differ, as after training
        if isinstance(m, torch.nn.Embedding):
            torch.nn.init.normal_(m.weight, 1.0, 0.5)
    g.eval()
    z = torch.randn(2, 8)
    with torch.no_grad():
        a = g(z, torch.tensor([0, 0]))
        b = g(z, torch.tensor([1, 1]))
        mixed = g(z, torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
        half = g(z, torch.tensor([[0.5, 0.5, 0.0]] * 2))
        default = g(z)  # sample i is of class i mod 3
    assert (a - b).abs().max() > 1e-3  # the class changes the picture
    assert torch.allclose(mixed, b, atol=1e-6)  # one-hot weights are the class itself
    assert (half - a).abs().max() > 1e-4 and (half - b).abs().max() > 1e-4
    assert torch.allclose(default[0], a[0], atol=1e-6) and torch.allclose(default[1], b[1], atol=1e-6)


def test_class_loss_trains_a_classifier_in_d(quiet, tmp_path, run_cli):
    out = gt.check_model("dcgan", spec=DataSpec("image", 1, 32), conditional=True,
                         sets={"ngf": 4, "ndf": 4, "z_dim": 8, "class_loss": 1.0},
                         workdir=tmp_path)
    shapes = ckpt.Checkpoint(out["checkpoint"]).shapes("s.nets.")
    assert shapes["D.classify.weight"][0] == 3
    root = labelled_folder(tmp_path / "fruit")
    r = _train(run_cli, root, "cls", "--set", "class_loss=1", "--log-every", "1")
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "runs" / "cls" / "metrics.jsonl").read_text().splitlines()[-1])
    # D learns the real classes, G is scored by the same classifier; 3 classes: ln 3 at chance
    assert 0 < rec["loss_cls"] < 5 and 0 < rec["loss_cls_g"] < 5


def test_class_loss_default_new_runs_only(quiet, tmp_path):
    """New runs get the classifier; a stored config without the key (a run made before
    the option) means 0, so its checkpoint, which has no classifier, still fits."""
    import dataclasses

    from gankit.config import from_dict
    from gankit_dcgan import CONDITIONAL_CLASS_LOSS, DCGAN

    model = DCGAN()
    assert model.default_config().class_loss == CONDITIONAL_CLASS_LOSS > 0
    assert model.default_config().class_head == "flat"
    stored = dataclasses.asdict(model.default_config())
    del stored["class_loss"], stored["class_head"]
    old = from_dict(model.Config, stored)
    assert old.class_loss == 0 and old.class_head == "pooled"
    listed = {o["name"]: o["default"] for o in model.describe()["options"]}
    assert listed["class_loss"] == CONDITIONAL_CLASS_LOSS and listed["class_head"] == "flat"
    # a run made with the averaged classifier (class_loss set, no class_head) still fits
    stored_pooled = {**stored, "class_loss": 0.3}
    spec = DataSpec("image", 1, 32, classes=("a", "b", "c"))
    nets = model.build(from_dict(model.Config, stored_pooled), spec)
    assert nets["D"].classify.in_features == nets["D"].embed.embedding_dim
    out = gt.check_model("dcgan", spec=DataSpec("image", 1, 32), conditional=True,
                         sets={"ngf": 4, "ndf": 4, "z_dim": 8, "class_loss": 0.0},
                         workdir=tmp_path)
    assert not any("classify" in k for k in ckpt.Checkpoint(out["checkpoint"]).shapes("s.nets."))


def test_class_head_flat_sees_the_whole_last_map(quiet, tmp_path):
    """``class_head=flat``: the classifier reads every position of D's last feature map
    (what pooling loses), and still trains through the step."""
    out = gt.check_model("dcgan", spec=DataSpec("image", 1, 32), conditional=True,
                         sets={"ngf": 4, "ndf": 4, "z_dim": 8, "class_loss": 1.0,
                               "class_head": "flat"}, workdir=tmp_path)
    shapes = ckpt.Checkpoint(out["checkpoint"]).shapes("s.nets.")
    width = shapes["D.embed.weight"][1]
    assert tuple(shapes["D.classify.weight"]) == (3, width * 4 * 4)
    D = out["trainer"].nets["D"]
    x, y = torch.randn(4, 1, 32, 32), torch.tensor([0, 1, 2, 0])
    with torch.no_grad():
        res = D(x, y, classify=True)
    assert res["logits"].shape == (4,)
    assert res["class_ce"].ndim == 0 and torch.isfinite(res["class_ce"])


def test_class_head_unknown_is_refused(tmp_path, run_cli):
    root = labelled_folder(tmp_path / "fruit")
    r = _train(run_cli, root, "bad", "--set", "class_head=deep")
    assert r.exit_code != 0 and "--set class_head=deep: choose pooled or flat" in r.stderr
    assert not (tmp_path / "runs" / "bad").exists()


def test_g_cond_unknown_is_refused(tmp_path, run_cli):
    root = labelled_folder(tmp_path / "fruit")
    r = _train(run_cli, root, "bad", "--set", "g_cond=film")
    assert r.exit_code != 0 and "--set g_cond=film: choose concat or cbn" in r.stderr
    assert not (tmp_path / "runs" / "bad").exists()


def test_check_model_with_labelled_data(quiet):
    d = _coded(12, 2)
    d.samples = torch.randint(0, 255, (12, 1, 32, 32), dtype=torch.uint8)
    d.spec = DataSpec("image", 1, 32, name="coded")
    gt.check_model("dcgan", data=d, conditional=True, sets={"ngf": 4, "ndf": 4, "z_dim": 8})


def _train(run_cli, root, name, *extra):
    return run_cli("-q", "train", "dcgan", "--data", str(root), "--conditional", *TINY_C,
                   "--steps", "2", "--name", name, "--sample-every", "2", *extra)


@pytest.fixture
def cond_run(tmp_path, run_cli):
    root = labelled_folder(tmp_path / "fruit")
    r = _train(run_cli, root, "c")
    assert r.exit_code == 0, r.output
    return tmp_path / "runs" / "c", root


def test_conditional_run_records_classes(cond_run):
    run, _ = cond_run
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["classes"] == list(KINDS)
    c = ckpt.latest_loadable(run)
    assert c.data["classes"] == list(KINDS) and c.train["conditional"] is True


def test_sample_class_and_grid_by_class(cond_run, run_cli, tmp_path):
    run, _ = cond_run
    r = run_cli("sample", str(run), "--class", "kiwi", "-n", "3", "--out", "k.npy")
    assert r.exit_code == 0, r.output
    kiwi = np.load(tmp_path / "k.npy")
    r = run_cli("sample", str(run), "--class", "1", "-n", "3", "--out", "k1.npy")
    assert np.array_equal(np.load(tmp_path / "k1.npy"), kiwi)  # a name or its index
    run_cli("sample", str(run), "--class", "plum", "-n", "3", "--out", "p.npy")
    assert not np.array_equal(np.load(tmp_path / "p.npy"), kiwi)  # the class matters
    r = run_cli("sample", str(run), "--grid-by-class", "-n", "2", "--out", "g.npy")
    g = np.load(tmp_path / "g.npy")
    # row 2: kiwi, seeds 0, 1 (equal up to the last bits: a batch of 6 and one of 3 may
    # take different convolution kernels)
    assert g.shape[0] == 6 and np.allclose(g[2:4], kiwi[:2], rtol=0, atol=1e-6)
    assert not np.allclose(g[0:2], kiwi[:2], rtol=0, atol=1e-6)
    r = run_cli("sample", str(run), "--grid-by-class", "-n", "2", "--out", "g.png")
    assert Image.open(tmp_path / "g.png").size == (2 * 34 + 2, 3 * 34 + 2)
    r = run_cli("sample", str(run), "--class", "kiwi,plum", "-n", "4", "--out", "kp.npy")
    kp = np.load(tmp_path / "kp.npy")
    same = dict(rtol=0, atol=1e-6)  # batches of 4 and 3: equal up to the last bits
    assert np.allclose(kp[0], kiwi[0], **same)
    assert np.allclose(kp[1], np.load(tmp_path / "p.npy")[1], **same)


def test_interpolate_between_classes(cond_run, run_cli, tmp_path, monkeypatch):
    import gankit.sampling

    run, _ = cond_run
    seen = []
    plain = gankit.sampling.generate

    def spy(model, nets, z, batch=256, labels=None):
        seen.append(labels)
        return plain(model, nets, z, batch, labels)

    monkeypatch.setattr(gankit.sampling, "generate", spy)
    r = run_cli("interpolate", str(run), "--class-a", "apple", "--class-b", "plum", "--steps", "5",
                "--out", "walk")
    assert r.exit_code == 0, r.output
    frames = sorted((tmp_path / "walk").glob("frame-*.png"))
    assert len(frames) == 5
    run_cli("sample", str(run), "--class", "plum", "--seeds", "0", "--out", "p.png")
    last = np.asarray(Image.open(frames[-1])).astype(int)
    want = np.asarray(Image.open(tmp_path / "p.png").convert("L")).astype(int)
    assert last.shape == want.shape and np.abs(last - want).max() <= 1  # seed 0 of plum
    mix = seen[0]  # the class embedding goes from apple to plum
    assert mix.shape == (5, 3) and mix[0].tolist() == [1, 0, 0] and mix[-1].tolist() == [0, 0, 1]
    assert mix[2].tolist() == [0.5, 0, 0.5]


@pytest.mark.parametrize("args, code, message", [
    (["--class", "kiwii"], 2, "--class kiwii: no such class; did you mean 'kiwi'?"),
    (["--class", "7"], 2, "--class 7: the run has 3 classes, 0 to 2"),
    (["--grid-by-class", "--grid", "2x2"], 2, "--grid-by-class lays out one row per class"),
])
def test_sample_class_refusals(cond_run, run_cli, tmp_path, args, code, message):
    run, _ = cond_run
    r = run_cli("sample", str(run), *args, "--out", "x.png")
    assert r.exit_code == code and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_class_on_an_unconditional_run(tmp_path, run_cli, tiny):
    root = labelled_folder(tmp_path / "fruit")
    r = run_cli("-q", "train", "dcgan", "--data", str(root), *tiny, "--steps", "1", "--name", "u")
    assert r.exit_code == 0, r.output
    for flag in (["--class", "kiwi"], ["--grid-by-class"]):
        r = run_cli("sample", "runs/u", *flag, "--out", "x.png")
        assert r.exit_code == 2 and "not class-conditional" in r.stderr
        assert not (tmp_path / "x.png").exists()
    r = run_cli("interpolate", "runs/u", "--class-a", "kiwi", "--out", "w")
    assert r.exit_code == 2 and "not class-conditional" in r.stderr


def test_resume_conditional_is_bit_exact(tmp_path, quiet):
    root = labelled_folder(tmp_path / "fruit", (5, 3, 4))

    def opts(name, steps):
        return TrainOptions(model="dcgan", data=str(root), image_size=32, batch_size=4,
                            steps=steps, seed=3, out=str(tmp_path / "runs"), name=name,
                            sample_every=2, checkpoint_every=2, log_every=2, keep_last=0,
                            conditional=True, balance_classes=True, extra={"cache": False})

    sets = {"ngf": "4", "ndf": "4", "z_dim": "8"}
    explicit = {"model", "data", "image_size", "batch_size", "steps", "seed", "conditional"}
    prepare(opts("one", 6), sets=sets, explicit=explicit).fit()
    prepare(opts("two", 2), sets=sets, explicit=explicit).fit()
    prepare(opts("two", 6), sets=sets, explicit={"steps"},
            resume=str(tmp_path / "runs" / "two")).fit()
    a = ckpt.latest_loadable(tmp_path / "runs" / "one").tensors()
    b = ckpt.latest_loadable(tmp_path / "runs" / "two").tensors()
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case, code, message", [
    ("cannot", 2, "--conditional: model 'vanilla' cannot be class-conditional"),
    ("unlabelled", 1, "--conditional: data set 'imagefolder' has no class labels"),
    ("one-class", 2, "--labels folders:"),
    ("one-image", 1, "class 'plum' (1) has fewer than 2 images"),
    ("no-image", 1, "class 'pear' (0) has fewer than 2 images"),
    ("hundreds", 2, "at most 1000 classes"),
    ("balance", 2, "--balance-classes: data set 'imagefolder' has no class labels"),
])
def test_conditional_refusals_write_nothing(tmp_path, run_cli, case, code, message,
                                            monkeypatch):
    import gankit_datasets

    root = tmp_path / "d"
    model, extra = "dcgan", ["--conditional"]
    if case == "cannot":
        model = "vanilla"
        labelled_folder(root)
    elif case == "unlabelled":
        labelled_folder(root, (2, 2, 2), loose=1)
    elif case == "one-class":
        labelled_folder(root, (3,), kinds=("apple",))
        extra += ["--labels", "folders"]
    elif case == "one-image":
        labelled_folder(root, (3, 3, 1))
    elif case == "no-image":
        labelled_folder(root)
        (root / "pear").mkdir()
        (root / "pear" / "broken.png").write_bytes(b"not a picture")
    elif case == "hundreds":
        monkeypatch.setattr(gankit_datasets, "MAX_FOLDER_CLASSES", 2)
        monkeypatch.setattr(gankit_datasets, "MAX_AUTO_CLASSES", 2)
        labelled_folder(root)
        extra += ["--labels", "folders"]
        message = "at most 2 classes"
    elif case == "balance":
        labelled_folder(root, (2, 2, 2), loose=1)
        extra = ["--balance-classes"]
    r = run_cli("train", model, "--data", str(root), *TINY_C, "--steps", "1", *extra)
    assert r.exit_code == code, r.output
    assert message in r.stderr and "Traceback" not in r.output
    assert len([x for x in r.stderr.splitlines() if x.startswith("Error:")]) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_plugin_labels_out_of_range(tmp_path, quiet):
    from gankit.train import plan

    d = _coded(8, 2)
    d.labels = torch.tensor([0, 1, 2, 0, 1, 0, 1, 0])
    with pytest.raises(Exception, match="a label of 2 for 2 classes"):
        from gankit.dataload import check_labels

        check_labels(d, "data set 'x'")
    d.labels = torch.arange(8) % 2
    d.classes = ["only"]
    with pytest.raises(Exception, match="a label of 1 for 1 classes"):
        check_labels(d, "data set 'x'")
    with pytest.raises(Exception, match="no class labels"):
        plan(TrainOptions(model="dcgan", conditional=True, out=str(tmp_path), image_size=32),
             data=Data(samples=torch.zeros(8, 1, 32, 32, dtype=torch.uint8),
                       spec=DataSpec("image", 1, 32)))
    assert not any(tmp_path.iterdir())


def test_checkpoint_class_count_mismatch(cond_run, tmp_path, run_cli):
    """A checkpoint whose metadata names other classes than its tensors hold."""
    from safetensors.torch import load_file, save_file

    run, root = cond_run
    c = ckpt.latest_loadable(run)
    meta = dict(c.metadata)
    data = json.loads(meta["gankit.data"])
    data["classes"] = ["a", "b"]
    meta["gankit.data"] = json.dumps(data)
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(c.path)), str(bad), metadata=meta)
    r = run_cli("sample", str(bad), "--out", "x.png")
    assert r.exit_code == 1 and "bad.safetensors" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


# -- export and the studio ---------------------------------------------------------------------

def test_torchscript_export_takes_a_class_input(cond_run, run_cli, tmp_path):
    run, _ = cond_run
    r = run_cli("export", str(run), "c.pt", "--format", "torchscript")
    assert r.exit_code == 0, r.output
    from gankit.export.torchscript import read_metadata

    meta = read_metadata(tmp_path / "c.pt")
    assert json.loads(meta["gankit.classes"]) == list(KINDS) and meta["gankit.labels_input"]
    net = torch.jit.load(str(tmp_path / "c.pt"))
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1, 8, generator=g)
    run_cli("sample", str(run), "--seeds", "0", "--class", "plum", "--out", "p.npy")
    want = (np.load(tmp_path / "p.npy").clip(-1, 1) + 1) / 2
    with torch.no_grad():
        got = net(z, torch.tensor([2])).numpy()
        other = net(z, torch.tensor([0])).numpy()
    assert np.abs(got - want).max() < 1e-3
    assert np.abs(other - want).max() > 0  # the class counts


def test_studio_class_pick(cond_run):
    import http.client
    import threading

    from gankit.studio import open_studio

    run, _ = cond_run
    srv = open_studio(None, run.parent, device="cpu")
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()

    def get(path):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{srv.port}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())

    try:
        status, info = get("/api/run?run=c")
        assert status == 200 and info["classes"] == list(KINDS)
        _, a = get("/api/samples?run=c&seeds=0-1&class=2")
        _, b = get("/api/samples?run=c&seeds=0-1&class=0")
        _, m = get("/api/samples?run=c&seeds=0-1&class=0&class_b=2&mix=1")
        assert a["images"] != b["images"] and m["images"] == a["images"]
        assert "--class plum" in a["command"]
        _, half = get("/api/samples?run=c&seeds=0-1&class=0&class_b=2&mix=0.5")
        assert half["images"] not in (a["images"], b["images"]) and "class mix" in half["command"]
        status, err = get("/api/samples?run=c&seeds=0&class=3")
        assert status == 400 and "the run has 3 classes" in err["error"]
    finally:
        srv.shutdown()
        srv.close()


def test_evaluate_reports_per_class_numbers(tmp_path, run_cli):
    root = labelled_folder(tmp_path / "fruit", (6, 6, 6))
    r = _train(run_cli, root, "e")
    assert r.exit_code == 0, r.output
    r = run_cli("evaluate", "runs/e", "-n", "24", "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    per = result["per_class"]
    assert list(per) == list(KINDS)
    assert all(v["images"] == 6 and v["samples"] == 8 and "kid" in v for v in per.values())
    r = run_cli("evaluate", "runs/e", "-n", "24")
    assert "per class" in r.stdout and "kiwi" in r.stdout


def test_the_guides_conditional_model_works(tmp_path, monkeypatch, quiet):
    """docs/plugins.md, "A class-conditional model": its two files, as written."""
    import re
    import sys

    doc = (ROOT / "docs" / "plugins.md").read_text()
    section = doc.split("#### A class-conditional model", 1)[1].split("\n#### ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2
    pkg = tmp_path / "gankit_tiny_cond"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(blocks[0])
    (pkg / "nets.py").write_text(blocks[1])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "gankit_tiny_cond", raising=False)
    monkeypatch.delitem(sys.modules, "gankit_tiny_cond.nets", raising=False)
    import gankit_tiny_cond

    plugins = gt.check_plugin(gankit_tiny_cond, "tiny-cond")
    gt.check_model("tiny-cond", plugins=plugins, spec=DataSpec("image", 3, 16), conditional=True,
                   sets={"hidden": 16})


def test_onnx_export_takes_a_class_input(cond_run, run_cli, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    run, _ = cond_run
    r = run_cli("export", str(run), "c.onnx")
    assert r.exit_code == 0, r.output
    from gankit.export.onnx import read_metadata

    meta = read_metadata(tmp_path / "c.onnx")
    assert json.loads(meta["gankit.classes"]) == list(KINDS) and meta["gankit.labels_input"] == "labels"
    sess = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["z", "labels"]
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))[:1].numpy()
    run_cli("sample", str(run), "--seeds", "0", "--class", "kiwi", "--out", "k.npy")
    want = (np.load(tmp_path / "k.npy").clip(-1, 1) + 1) / 2
    got = sess.run(None, {"z": z, "labels": np.array([1], dtype=np.int64)})[0]
    assert np.abs(got - want).max() < 1e-3
    two = sess.run(None, {"z": np.concatenate([z, z]), "labels": np.array([1, 2], dtype=np.int64)})[0]
    assert np.abs(two[0] - want[0]).max() < 1e-3 and np.abs(two[1] - want[0]).max() > 0


def test_check_model_conditional_lightweight(quiet, tmp_path):
    out = gt.check_model("lightweight", spec=DataSpec("image", 3, 64), conditional=True,
                         sets={"ngf": 4, "ndf": 4, "z_dim": 8}, workdir=tmp_path)
    shapes = ckpt.Checkpoint(out["checkpoint"]).shapes("s.nets.")
    assert shapes["G.embed.weight"] == (3, 8) and "D.embed_small.weight" in shapes


def test_studio_walk_keeps_the_picked_class(cond_run):
    from gankit.studio.app import Studio
    from gankit.studio.catalog import Catalog

    run, _ = cond_run
    studio = Studio(Catalog(run.parent, None), device="cpu")
    try:
        w = studio.walk("c", [0, 1], 3, "auto", False, None, [], pick=(2, None, 0.0))
        assert w.labels.tolist() == [2, 2, 2]
        assert "--class-a plum" in studio.interpolate_command(w.loaded.entry, w)
        w = studio.walk("c", [0, 1], 3, "auto", False, None, [])
        assert w.labels.tolist() == [0, 0, 0]  # as gankit interpolate: the first class
    finally:
        studio.close()


def test_resume_on_other_classes_is_refused(cond_run, run_cli, tmp_path):
    run, root = cond_run
    other = labelled_folder(tmp_path / "other", kinds=("apple", "kiwi", "pear"))
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    config = (run / "config.json").read_text()
    r = run_cli("train", "--resume", str(run), "--data", str(other), "--steps", "4", "--override")
    assert r.exit_code == 1 and "trained on 3 classes (apple, kiwi, plum)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    assert (run / "config.json").read_text() == config


def test_class_embedding_rows_mixes_and_turns():
    """gankit.nn.class_embedding, what every built-in conditional generator feeds on."""
    from gankit import nn as gnn

    emb = torch.nn.Embedding(3, 4)
    z = torch.zeros(5, 2)
    assert torch.equal(gnn.class_embedding(emb, torch.tensor([2, 0]), z), emb.weight[[2, 0]])
    mix = gnn.class_embedding(emb, torch.tensor([[0.25, 0.75, 0.0]]), z)
    assert torch.allclose(mix[0], 0.25 * emb.weight[0] + 0.75 * emb.weight[1])
    # no labels: the classes in turn, as many as the noise has rows
    assert torch.equal(gnn.class_embedding(emb, None, z), emb.weight[[0, 1, 2, 0, 1]])
