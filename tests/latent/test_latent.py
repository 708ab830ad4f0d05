"""The latent space: lerp/slerp, frame counting, seeds, truncation, directions,
`gankit interpolate`, `gankit timelapse`, `gankit direction` and sample's --label."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import latent
from gankit.errors import UsageError

# ------------------------------------------------------------------ pure functions


def test_lerp_endpoints_and_midpoint():
    a, b = torch.tensor([[0.0, 2.0]]), torch.tensor([[4.0, -2.0]])
    out = latent.lerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.equal(out, torch.tensor([[0.0, 2.0], [2.0, 0.0], [4.0, -2.0]]))


def test_slerp_interpolates_norms_and_keeps_them_between_endpoints():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(1, 100, generator=g) * 0.8
    b = torch.randn(1, 100, generator=g) * 1.3
    t = torch.linspace(0, 1, 21)
    out = latent.slerp(a, b, t)
    na, nb = a.norm(), b.norm()
    norms = out.norm(dim=1)
    torch.testing.assert_close(norms, na + (nb - na) * t, rtol=1e-5, atol=1e-5)
    assert bool((norms >= min(na, nb) - 1e-5).all() and (norms <= max(na, nb) + 1e-5).all())
    assert torch.equal(out[0], a[0]) and torch.equal(out[-1], b[0])  # exact endpoints
    # a straight line dips towards the origin in between: that is what slerp avoids
    assert latent.lerp(a, b, 0.5).norm() < min(na, nb) * 0.9
    # the direction turns at a constant rate along the great circle
    cos = torch.nn.functional.cosine_similarity(out, a.expand_as(out))
    angles = torch.arccos(cos.clamp(-1, 1))
    steps = angles[1:] - angles[:-1]
    torch.testing.assert_close(steps, steps.mean().expand_as(steps), rtol=1e-3, atol=1e-4)


def test_slerp_parallel_vectors_fall_back_to_a_line():
    a = torch.tensor([[1.0, 0.0]])
    out = latent.slerp(a, 3 * a, torch.tensor([0.5]))
    torch.testing.assert_close(out, torch.tensor([[2.0, 0.0]]))


@pytest.mark.parametrize("k,steps,loop,expected", [
    (2, 50, False, 50), (3, 5, False, 9), (3, 5, True, 12), (2, 2, True, 2), (4, 10, False, 28)])
def test_chain_frame_count_and_no_duplicate_boundaries(k, steps, loop, expected):
    points = torch.randn(k, 8, generator=torch.Generator().manual_seed(k))
    z = latent.chain(points, steps, "lerp", loop=loop)
    assert z.shape[0] == expected == latent.frame_count(k, steps, loop)
    for i in range(k):  # point i sits at frame i*(steps-1), written once
        assert torch.equal(z[i * (steps - 1)], points[i])
    diffs = (z[1:] - z[:-1]).norm(dim=1)
    assert bool((diffs > 1e-6).all()), "a frame is repeated"
    if loop:  # the GIF wraps: the step from the last frame back to the first is a normal one
        assert (z[-1] - z[0]).norm() == pytest.approx(diffs[-1].item(), rel=1e-4)
    else:
        assert torch.equal(z[-1], points[-1])


def test_chain_rejects_bad_arguments():
    pts = torch.zeros(2, 3)
    with pytest.raises(UsageError, match="--steps"):
        latent.chain(pts, 1)
    with pytest.raises(UsageError, match="two points"):
        latent.chain(pts[:1], 5)


def test_walk_goes_from_start_to_stop_and_back():
    z, d = torch.zeros(4), torch.ones(4)
    pts, s = latent.walk(z, d, -2, 2, 5)
    assert s.tolist() == [-2, -1, 0, 1, 2] and torch.equal(pts[0], -2 * d)
    pts, s = latent.walk(z, d, -2, 2, 5, loop=True)
    assert s.tolist() == [-2, -1, 0, 1, 2, 1, 0, -1]


def test_direction_specs():
    assert latent.parse_direction_spec("tuna:1.5") == ("tuna", 1.5)
    assert latent.parse_direction_spec("tuna:-2") == ("tuna", -2.0)
    assert latent.parse_direction_spec("long-hair") == ("long-hair", 1.0)
    for bad in ("tuna:x", "../etc:1", ":1", "a/b:2", "tuna:nan"):
        with pytest.raises(UsageError):
            latent.parse_direction_spec(bad)


# ------------------------------------------------------------------ a tiny trained run

TINY_SEEDS = (3, 11)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny dcgan trained 4 steps with a grid saved every step.

    Four steps leave the batch-norm running statistics near their initial values, which
    makes every eval-mode sample look alike; they are re-estimated on 256 latents (as
    after a longer training) so that different seeds give visibly different images.
    """
    from kit import train_tiny

    # G is re-estimated after training: no EMA copy
    return train_tiny(tmp_path_factory.mktemp("latent-runs"), steps=4, sample_every=1,
                      grid=16, checkpoint_every=0, ema=0, settle=True)


def _png(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def _gif_frames(path):
    with Image.open(path) as im:
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")).astype(int))
        return im.size, frames


def _ok(res):
    assert res.exit_code == 0, res.stderr
    return res


def _fails(res, *words, code=None):
    assert res.exit_code != 0
    if code is not None:
        assert res.exit_code == code
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_interpolate_gif_frames_and_endpoints(run_cli, run, tmp_path):
    a, b = TINY_SEEDS
    _ok(run_cli("sample", run, "--seeds", a, "--out", tmp_path / "a.png"))
    _ok(run_cli("sample", run, "--seeds", b, "--out", tmp_path / "b.png"))
    res = _ok(run_cli("interpolate", run, "--seed-a", a, "--seed-b", b, "--steps", 7, "--gif",
                      "--out", tmp_path / "walk"))
    assert "7 frames (slerp" in res.stderr  # dcgan's prior is Gaussian: slerp by default
    frames = sorted(p.name for p in (tmp_path / "walk").glob("frame-*.png"))
    assert frames == [f"frame-{i:03d}.png" for i in range(7)]
    first, last = _png(tmp_path / "walk/frame-000.png"), _png(tmp_path / "walk/frame-006.png")
    sa, sb = _png(tmp_path / "a.png"), _png(tmp_path / "b.png")
    assert np.abs(sa - sb).max() > 20, "the seeds must give different images for this test"
    assert np.array_equal(first, sa) and np.array_equal(last, sb)
    size, gif = _gif_frames(tmp_path / "walk/interpolation.gif")
    assert size == (32, 32) and len(gif) == 7
    assert np.abs(gif[0] - sa).mean() < 8 and np.abs(gif[-1] - sb).mean() < 8  # palette error


def test_interpolate_chain_loop_and_size(run_cli, run, tmp_path):
    _ok(run_cli("interpolate", run, "--seeds", "1,2,3", "--steps", 4, "--loop", "--gif",
                "--size", 48, "--fps", 5, "--method", "lerp", "--out", tmp_path / "c"))
    size, gif = _gif_frames(tmp_path / "c/interpolation.gif")
    assert size == (48, 48) and len(gif) == 3 * (4 - 1)
    assert len(list((tmp_path / "c").glob("frame-*.png"))) == 9
    with Image.open(tmp_path / "c/interpolation.gif") as im:
        assert im.info["duration"] == 200
    # a shorter walk into the same folder leaves no stale frames behind
    _ok(run_cli("interpolate", run, "--steps", 3, "--out", tmp_path / "c"))
    assert sorted(p.name for p in (tmp_path / "c").glob("frame-*.png")) == [
        "frame-000.png", "frame-001.png", "frame-002.png"]


def test_interpolate_bad_flags(run_cli, run):
    _fails(run_cli("interpolate", run, "--steps", 1), "--steps", code=2)
    _fails(run_cli("interpolate", run, "--seeds", "4"), "--seeds", code=2)
    _fails(run_cli("interpolate", run, "--seeds", "1,2", "--seed-a", 3), "--seeds", code=2)
    _fails(run_cli("interpolate", run, "--from", -1), "--direction", code=2)


def test_latents_for_seeds_and_truncation():
    from gankit.plugins import get_plugins

    model = get_plugins().models().get("dcgan")
    cfg = model.default_config()
    z = latent.latents_for_seeds(model, cfg, [0, 5, 9], truncation=0.5)
    assert z.abs().max() <= 0.5
    one = latent.latents_for_seeds(model, cfg, [5], truncation=0.5)
    assert torch.equal(one[0], z[1])  # each truncated sample is reproducible from its seed
    plain = latent.latents_for_seeds(model, cfg, [5])
    kept = plain[0].abs() <= 0.5
    assert torch.equal(one[0][kept], plain[0][kept])  # only the outliers were redrawn


def test_sample_truncation(run_cli, run, tmp_path, plugins):
    _ok(run_cli("sample", run, "--seeds", "0-3", "--out", tmp_path / "p.npy"))
    res = _ok(run_cli("sample", run, "--seeds", "0-3", "--truncation", 0.3,
                      "--out", tmp_path / "t.npy"))
    assert "truncation 0.3" in res.stderr
    p, t = np.load(tmp_path / "p.npy"), np.load(tmp_path / "t.npy")
    assert np.abs(p - t).max() > 0.05
    # truncated samples are closer to each other (less varied)
    assert t.std(axis=0).mean() < p.std(axis=0).mean()
    _fails(run_cli("sample", run, "--truncation", 0), "--truncation", code=2)
    plugins.models().get("dcgan").prior = "uniform"
    _fails(run_cli("sample", run, "--truncation", 0.5), "--truncation", "uniform", code=2)


def test_sample_label(run_cli, run, tmp_path):
    _ok(run_cli("sample", run, "--seeds", "10-15", "--grid", "3x2", "--out", tmp_path / "p.png"))
    _ok(run_cli("sample", run, "--seeds", "10-15", "--grid", "3x2", "--label",
                "--out", tmp_path / "l.png"))
    plain, lab = _png(tmp_path / "p.png"), _png(tmp_path / "l.png")
    assert lab.shape[1] == plain.shape[1] and lab.shape[0] > plain.shape[0]
    band = lab[2 + 32:2 + 32 + 8, 2:2 + 32]  # under the first cell: its seed, "10"
    assert band.max() > 150
    assert np.array_equal(lab[2:34, 2:34], plain[2:34, 2:34])  # the cells are untouched
    _fails(run_cli("sample", run, "--label", "--out", str(tmp_path / "dir") + "/"), "--label")


def test_direction_fit_list_apply(run_cli, run, tmp_path):
    _ok(run_cli("direction", "fit", "up", run, "--positive", "1,2,3", "--negative", "4-6"))
    path = run / "directions" / "up.safetensors"
    assert path.is_file()
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        vec = fh.get_tensor("direction")
    assert meta["model"] == "dcgan" and meta["z_dim"] == "100" and meta["step"] == "4"
    assert meta["positive"] == "1,2,3" and meta["negative"] == "4-6"
    from gankit.plugins import get_plugins

    model = get_plugins().models().get("dcgan")
    zs = latent.latents_for_seeds(model, model.default_config(), range(1, 7))
    torch.testing.assert_close(vec, zs[:3].mean(0) - zs[3:].mean(0))
    rows = json.loads(_ok(run_cli("direction", "list", run, "--json")).stdout)
    assert [r["name"] for r in rows] == ["up"] and rows[0]["z_dim"] == 100
    assert rows[0]["norm"] == pytest.approx(float(vec.norm()), abs=1e-3)
    assert "up" in _ok(run_cli("direction", "list", run)).stdout
    _fails(run_cli("direction", "fit", "up", run, "--positive", "1", "--negative", "2"),
           "--force")
    # + s then - s comes back to the plain samples; + s alone changes them
    _ok(run_cli("sample", run, "--seeds", "0-3", "--out", tmp_path / "p.npy"))
    _ok(run_cli("sample", run, "--seeds", "0-3", "--direction", "up:1.5",
                "--out", tmp_path / "u.npy"))
    _ok(run_cli("sample", run, "--seeds", "0-3", "--direction", "up:1.5",
                "--direction", "up:-1.5", "--out", tmp_path / "b.npy"))
    p, u, b = (np.load(tmp_path / f"{n}.npy") for n in "pub")
    assert np.abs(u - p).max() > 0.05
    np.testing.assert_allclose(b, p, atol=1e-4)
    # the walk: --steps frames from z_A - 1*d to z_A + 1*d; the middle one is seed A itself
    _ok(run_cli("sample", run, "--seeds", 5, "--out", tmp_path / "s5.png"))
    _ok(run_cli("interpolate", run, "--seed-a", 5, "--direction", "up", "--from", -1, "--to", 1,
                "--steps", 5, "--gif", "--out", tmp_path / "w"))
    assert np.array_equal(_png(tmp_path / "w/frame-002.png"), _png(tmp_path / "s5.png"))
    assert len(_gif_frames(tmp_path / "w/interpolation.gif")[1]) == 5


def test_direction_errors(run_cli, run, tmp_path):
    line = _fails(run_cli("sample", run, "--direction", "nosuch:1"), "nosuch", "direction fit")
    assert str(run) in line
    _fails(run_cli("interpolate", run, "--direction", "nosuch"), "nosuch")
    _fails(run_cli("sample", run, "--direction", "x:y"), "NAME:STRENGTH", code=2)
    _fails(run_cli("direction", "fit", "d", run, "--positive", "1,2", "--negative", "2,3"),
           "share", code=2)
    # a checkpoint outside any run folder has no directions/
    loose = tmp_path / "loose.safetensors"
    loose.write_bytes(next((run / "checkpoints").glob("*.safetensors")).read_bytes())
    _fails(run_cli("sample", loose, "--direction", "up:1"), "not inside a run folder")
    _ok(run_cli("sample", loose, "-n", 2, "--out", tmp_path / "x.png"))  # plain sampling is fine
    # a damaged direction file
    bad = run / "directions" / "broken.safetensors"
    bad.parent.mkdir(exist_ok=True)
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    _fails(run_cli("sample", run, "--direction", "broken:1"), "broken.safetensors")
    bad.unlink()


def test_corrupt_run_folder(run_cli, tmp_path):
    ck = tmp_path / "bad" / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "step-0000010.safetensors").write_bytes(b"garbage")
    (tmp_path / "bad" / "samples").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"gankit_run": 1}')  # gankit's marker
    for args in (("interpolate",), ("sample",), ("direction", "fit", "d")):
        extra = ("--positive", "1", "--negative", "2") if args[0] == "direction" else ()
        _fails(run_cli(*args, tmp_path / "bad", *extra), "bad", "can be read")
    _fails(run_cli("direction", "list", tmp_path / "bad"), "can be read")
    _fails(run_cli("timelapse", tmp_path / "bad"), "no sample grids")
    _fails(run_cli("interpolate", tmp_path / "nothing"), "no such run")


def test_timelapse(run_cli, run, tmp_path):
    res = _ok(run_cli("timelapse", run, "--out", tmp_path / "t.gif", "--fps", 4))
    assert "4 grids" in res.stderr
    size, frames = _gif_frames(tmp_path / "t.gif")
    with Image.open(run / "samples" / "step-000004.png") as im:
        assert size == im.size
    assert len(frames) == 4
    assert frames[0][2:12, 2:30].max() > 200  # "step 1" written on the black corner
    _ok(run_cli("timelapse", run, "--out", tmp_path / "e.gif", "--every", 3, "--size", 64,
                "--no-step"))
    size, frames = _gif_frames(tmp_path / "e.gif")
    assert len(frames) == 2 and size[0] == 64  # steps 1 and 4: the last grid is always kept
    _fails(run_cli("timelapse", run, "--out", tmp_path / "t.png"), ".gif", code=2)
    _fails(run_cli("timelapse", run, "--every", 0, "--out", tmp_path / "z.gif"), "--every")
    # the default output is RUN/timelapse.gif
    _ok(run_cli("timelapse", run))
    assert (run / "timelapse.gif").is_file()


# ------------------------------------------------------------------ translation models refused


class _FakeTranslation:
    """A plugin registering a translation model with no weights."""

    from gankit import hookimpl

    @hookimpl
    def register_models(self, register):
        from gankit import TRANSLATION, GANModel

        class Fake(GANModel):
            name = "fake-translate"
            kind = TRANSLATION
            summary = "test only"

            def build(self, config, spec, loss=None):
                return {"G": torch.nn.Identity()}

        register(Fake())


def fake_translation_run(plugins, run_dir):
    """A run folder of the registered test-only translation model (one checkpoint)."""
    from gankit import checkpoints

    plugins.add_plugin(_FakeTranslation(), "fake-translation")
    meta = {"gankit.model": "fake-translate", "gankit.model_version": "1",
            "gankit.config": "{}", "gankit.step": "3",
            "gankit.data": json.dumps({"kind": "image", "channels": 3, "size": 32})}
    checkpoints.save(checkpoints.checkpoint_path(run_dir, 3), {"x": torch.zeros(1)}, meta)
    (run_dir / "config.json").write_text('{"gankit_run": 1}')  # what makes it a run
    return run_dir


def test_translation_model_is_refused(run_cli, plugins, tmp_path):
    run_dir = fake_translation_run(plugins, tmp_path / "trans")
    for args in (("interpolate",), ("sample",), ("direction", "list"),
                 ("direction", "fit", "d", run_dir, "--positive", "1", "--negative", "2")):
        target = () if args[0] == "direction" and args[1] == "fit" else (run_dir,)
        line = _fails(run_cli(*args, *target), "translation", "gankit translate")
        assert "fake-translate" in line


def test_help_mentions_directions_from_pictures(run_cli):
    out = _ok(run_cli("direction", "--help")).stdout
    assert "--positive-images" in out and "gankit project" in out
    out = _ok(run_cli("interpolate", "--help")).stdout
    assert "(K-1)*(steps-1)+1" in out
