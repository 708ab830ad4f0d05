"""`gankit export`: ONNX and TorchScript files that reproduce `gankit sample` and
`gankit translate`, their metadata, their checks and their refusals; the web folder's
contents (its page is driven in a browser by test_export_browser.py)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from kit import ROOT, TINY, cli_ok
from kit.studio import CYCLEGAN_TINY, draw_domain

onnx = pytest.importorskip("onnx", reason='needs the export extra: pip install "gankit[export]"')
ort = pytest.importorskip("onnxruntime", reason='needs the export extra: pip install "gankit[export]"')

RUNS = {
    "dcgan": ["train", "dcgan", *TINY, "--steps", "4"],
    "wgan-gp": ["train", "wgan-gp", *TINY, "--steps", "2"],
    "vanilla": ["train", "vanilla", "--dataset", "sushi", "--image-size", "16", "--set",
                "hidden=32", "--batch-size", "8", "--steps", "3"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-runs")
    out = root / "runs"
    for name, args in RUNS.items():
        cli_ok(*args, "--out", out, "--name", name, "--quiet")
    a, b = draw_domain(root / "A", "A"), draw_domain(root / "B", "B")
    cli_ok("train", "cyclegan", "--data", a, "--data-b", b, *CYCLEGAN_TINY, "--steps", "2",
        "--out", out, "--name", "cg", "--quiet")
    return out


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def metadata(path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def sample_npy(run, tmp, seeds="0-15"):
    """`gankit sample --seeds ... --out x.npy`: gankit's own images in [-1, 1]."""
    cli_ok("sample", run, "--seeds", seeds, "--out", tmp / "s.npy", "--device", "cpu", "--quiet")
    return np.load(tmp / "s.npy")


def seed_latents(run, seeds):
    from gankit.latent import latents_for_seeds
    from gankit.loading import load_model

    model, config, *_ = load_model(run)
    return latents_for_seeds(model, config, seeds).numpy()


@pytest.mark.parametrize("name", ["dcgan", "wgan-gp", "vanilla"])
def test_onnx_reproduces_gankit_sample(runs, tmp_path, name):
    run = runs / name
    res = cli_ok("export", run, tmp_path / "g.onnx")
    assert "checked with onnxruntime on 16 seed(s)" in res.stderr
    want = (np.clip(sample_npy(run, tmp_path), -1, 1) + 1) / 2
    meta = metadata(tmp_path / "g.onnx")
    z = seed_latents(run, range(16))
    assert z.shape[1] == int(meta["gankit.z_dim"])
    sess = session(tmp_path / "g.onnx")
    assert [i.name for i in sess.get_inputs()] == ["z"]
    assert [o.name for o in sess.get_outputs()] == ["images"]
    got = sess.run(None, {"z": z})[0]
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-3
    assert 0 <= got.min() and got.max() <= 1
    # the batch is dynamic: one seed alone gives the same picture
    one = sess.run(None, {"z": z[5:6]})[0]
    assert one.shape[0] == 1 and np.abs(one[0] - want[5]).max() < 1e-3
    # what gankit sample needs travels in the file
    size, channels = want.shape[-1], want.shape[1]
    assert meta["gankit.model"] == ("wgan-gp" if name == "wgan-gp" else name)
    assert meta["gankit.image_size"] == str(size) and meta["gankit.channels"] == str(channels)
    assert meta["gankit.prior"] == ("uniform" if name == "vanilla" else "gaussian")
    assert meta["gankit.step"] == str(int(RUNS[name][-1]))
    assert meta["gankit.version"] == __import__("gankit").__version__
    assert json.loads(meta["gankit.config"])["z_dim"] == z.shape[1]
    assert json.loads(meta["gankit.data"])["size"] == size
    assert meta["gankit.opset"] == "18"
    assert onnx.load(str(tmp_path / "g.onnx")).opset_import[0].version == 18


def test_uint8_onnx_gives_the_pixels_of_gankit_sample(runs, tmp_path):
    run = runs / "dcgan"
    cli_ok("export", run, "--out", tmp_path / "u8.onnx", "--uint8", "--check-seeds", "0-3")
    cli_ok("sample", run, "--seeds", "0-3", "--out", f"{tmp_path}/png/", "--device", "cpu", "--quiet")
    sess = session(tmp_path / "u8.onnx")
    got = sess.run(None, {"z": seed_latents(run, range(4))})[0]
    assert got.dtype == np.uint8 and got.shape == (4, 32, 32, 3)  # N, H, W, C
    for i in range(4):
        png = np.asarray(Image.open(tmp_path / "png" / f"seed{i:05d}.png"))
        assert np.abs(got[i].astype(int) - png.astype(int)).max() <= 1
    assert metadata(tmp_path / "u8.onnx")["gankit.range"] == "0..255"


@pytest.mark.filterwarnings("ignore:.*torch.jit.*deprecated:FutureWarning")
def test_torchscript_reproduces_gankit_sample_and_carries_metadata(runs, tmp_path):
    import torch

    run = runs / "dcgan"
    res = cli_ok("export", run, tmp_path / "g.pt", "--format", "torchscript")
    assert "checked with torch.jit" in res.stderr
    extra = {"gankit.json": ""}
    g = torch.jit.load(str(tmp_path / "g.pt"), _extra_files=extra)
    meta = json.loads(extra["gankit.json"])
    assert meta["gankit.model"] == "dcgan" and meta["gankit.z_dim"] == "100"
    assert meta["gankit.format"] == "torchscript" and meta["gankit.prior"] == "gaussian"
    want = (np.clip(sample_npy(run, tmp_path), -1, 1) + 1) / 2
    with torch.no_grad():
        got = g(torch.from_numpy(seed_latents(run, range(16)))).numpy()
    assert np.abs(got - want).max() < 1e-3


def test_cyclegan_both_directions_reproduce_gankit_translate(runs, tmp_path):
    run = runs / "cg"
    res = cli_ok("export", run, tmp_path / "cg.onnx")  # translation: both directions by default
    assert res.stderr.count("checked with onnxruntime") == 2
    photo = np.zeros((32, 32, 3), np.uint8)
    photo[..., 2] = 150
    photo[8:20, 10:25] = (240, 40, 40)
    Image.fromarray(photo).save(tmp_path / "in.png")
    for d in ("a2b", "b2a"):
        path = tmp_path / f"cg-{d}.onnx"
        meta = metadata(path)
        assert meta["gankit.direction"] == d and meta["gankit.kind"] == "translation"
        assert meta["gankit.size_multiple"] == "4"
        cli_ok("translate", run, tmp_path / "in.png", "--direction", d, "--out", tmp_path / d,
            "--device", "cpu", "--quiet")
        want = np.asarray(Image.open(tmp_path / d / "in.png")).astype(int)
        sess = session(path)
        assert [i.name for i in sess.get_inputs()] == ["images"]
        assert [o.name for o in sess.get_outputs()] == ["translated"]
        x = (photo.astype(np.float32) / 255).transpose(2, 0, 1)[None]
        got = sess.run(None, {"images": x})[0][0].transpose(1, 2, 0)
        assert np.abs(np.round(got * 255).astype(int) - want).max() <= 1
        # height and width are dynamic too (multiples of size_multiple)
        wide = sess.run(None, {"images": np.zeros((2, 3, 32, 48), np.float32)})[0]
        assert wide.shape == (2, 3, 32, 48)
    # the two generators differ
    a2b, b2a = (session(tmp_path / f"cg-{d}.onnx").run(None, {"images": x})[0]
                for d in ("a2b", "b2a"))
    assert np.abs(a2b - b2a).max() > 0


def test_one_cyclegan_direction_as_uint8(runs, tmp_path):
    cli_ok("export", runs / "cg", tmp_path / "b.onnx", "--direction", "b2a", "--uint8",
        "--check-seeds", "0-1")
    assert not (tmp_path / "b-b2a.onnx").exists()
    sess = session(tmp_path / "b.onnx")
    out = sess.run(None, {"images": np.full((1, 32, 32, 3), 128, np.uint8)})[0]
    assert out.dtype == np.uint8 and out.shape == (1, 32, 32, 3)


def test_a_failed_check_is_one_error_line_and_writes_nothing(runs, tmp_path, run_cli,
                                                             monkeypatch):
    from gankit.export import common

    real = common.reference
    monkeypatch.setattr(common, "reference", lambda *a: real(*a) + 0.01)
    res = run_cli("export", runs / "dcgan", tmp_path / "bad.onnx")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: export check failed") and "tolerance 0.001" in lines[-1]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "bad.onnx").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_missing_onnx_names_the_extra(runs, tmp_path, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import fails
    res = run_cli("export", runs / "dcgan", tmp_path / "g.onnx")
    assert res.exit_code == 1
    assert res.stderr.strip() == 'Error: gankit export needs the \'onnx\' package: ' \
                                 'pip install "gankit[export]"'


@pytest.mark.parametrize("args, code, words", [
    (["--direction", "a2b"], 2, "--direction a2b: 'dcgan' is an unconditional model"),
    (["--check-seeds", "x"], 2, "--check-seeds x: expected numbers"),
    (["--opset", "9"], 2, "--opset 9: choose 17 to 21"),
    (["--tolerance", "0"], 2, "--tolerance 0: must be a positive"),
    (["--ort-dir", "x"], 2, "--ort-dir: only for --format web"),
])
def test_bad_flags_are_one_line(runs, run_cli, args, code, words):
    res = run_cli("export", runs / "dcgan", *args)
    assert res.exit_code == code, res.stderr
    assert words in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_web_refuses_a_missing_runtime(runs, tmp_path, run_cli):
    # translation runs get the translation page (tests/export/test_sketch_web.py), so both kinds
    # reach the runtime's check
    for run in ("cg", "dcgan"):
        res = run_cli("export", runs / run, tmp_path / "w", "--format", "web",
                      "--ort-dir", tmp_path / "ort")
        assert res.exit_code == 1
        assert "scripts/fetch-ort-web.sh" in res.stderr
        assert "npm pack onnxruntime-web@" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()


# -- the web folder ----------------------------------------------------------------------------


def ort_web_dir():
    from gankit.export import ortweb

    try:
        ortweb.load()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"onnxruntime-web is not here ({exc})")
    return ortweb.default_dir()


def test_web_folder_holds_the_model_latents_directions_and_runtime(runs, tmp_path):
    import torch

    from gankit.export import ortweb
    from gankit.latent import latents_for_seeds, load_direction
    from gankit.loading import load_model

    ort_web_dir()
    run = runs / "dcgan"
    cli_ok("direction", "fit", "bright", run, "--positive", "0-2", "--negative", "5-7")
    res = cli_ok("export", run, tmp_path / "site", "--format", "web", "--web-seeds", "0-31")
    site = tmp_path / "site"
    assert "32 seeds, 1 direction(s)" in res.stderr
    names = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert {"index.html", "gankit-web.js", "gankit-common.js", "studio.css", "web.css",
            "generator.onnx", "latents.bin", "run.json", "directions.json"} <= names
    assert {f"ort/{n}" for n in ortweb.FILES} <= names
    info = json.loads((site / "run.json").read_text())
    assert info["format"] == "gankit.web" and info["seeds"] == list(range(32))
    assert info["z_dim"] == 100 and info["truncations"] == [0.5, 0.7, 1.0, 1.5, 2.0]
    # z as gankit draws it, untruncated and at each truncation level
    model, config, *_ = load_model(run)
    z = np.frombuffer((site / "latents.bin").read_bytes(), "<f4").reshape(info["latents_shape"])
    assert z.shape == (6, 32, 100)
    assert np.array_equal(z[0], latents_for_seeds(model, config, range(32)).numpy())
    assert np.array_equal(z[2], latents_for_seeds(model, config, range(32), truncation=0.7).numpy())
    assert np.abs(z[1]).max() <= 0.5
    dirs = json.loads((site / "directions.json").read_text())
    assert [d["name"] for d in dirs] == ["bright"]
    vec = load_direction(run, "bright", model, config)
    assert torch.allclose(torch.tensor(dirs[0]["vector"]), vec)
    # each runtime file is the pinned one
    for n, digest in ortweb.FILES.items():
        assert ortweb.sha256((site / "ort" / n).read_bytes()) == digest
    # a second export into the same folder replaces it; a foreign folder is refused
    cli_ok("export", run, site, "--format", "web", "--web-seeds", "0-7", "--quiet")
    assert json.loads((site / "run.json").read_text())["seeds"] == list(range(8))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    from click.testing import CliRunner

    from gankit.cli import make_cli

    res = CliRunner().invoke(make_cli(), ["export", str(run), str(tmp_path / "mine"),
                                          "--format", "web"])
    assert res.exit_code == 2 and "not a gankit web export" in res.stderr


def test_a_tampered_runtime_is_refused(tmp_path):
    from gankit.errors import GankitError
    from gankit.export import ortweb

    src = ort_web_dir()
    for n in ortweb.FILES:
        (tmp_path / n).write_bytes((src / n).read_bytes())
    assert set(ortweb.load(tmp_path)) == set(ortweb.FILES)
    with open(tmp_path / "ort.wasm.min.js", "ab") as fh:
        fh.write(b"//")
    with pytest.raises(GankitError, match="ort.wasm.min.js is not the one of onnxruntime-web"):
        ortweb.load(tmp_path)


def test_export_help_and_listing_stay_light():
    import subprocess

    code = ("import sys\nfrom gankit.cli import main\n"
            "try:\n    main(['export', '--help'])\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('torch', 'onnx', 'onnxruntime', 'onnxscript') if m in sys.modules]\n"
            "assert not bad, bad\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--format [onnx|torchscript|web]" in out.stdout and out.stdout.strip().endswith("ok")


def test_docs_name_what_the_code_pins():
    from gankit.export import ortweb
    from gankit.export.onnx import OPSET

    doc = (ROOT / "docs" / "export.md").read_text()
    assert f"onnxruntime-web@{ortweb.VERSION}" in doc and f"opset {OPSET}" in doc
