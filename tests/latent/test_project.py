"""`gankit project`, latent files (`--z`) and directions from real pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import projection

FAST = ["--steps", "30", "--candidates", "8", "--distance", "multiscale"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny dcgan (32 px) trained 4 steps, its batch-norm statistics re-estimated on 256
    latents so that z matters (as after a longer training; see test_latent.py)."""
    from kit import train_tiny

    return train_tiny(tmp_path_factory.mktemp("project-runs"), steps=4, sample_every=0,
                      checkpoint_every=0, ema=0, settle=True)


def _generated(run, seeds, size=32):
    """Pictures the run itself draws (as uint8 HWC): projections can reach them."""
    from gankit.latent import latents_for_seeds
    from gankit.loading import load_model
    from gankit.sampling import generate

    model, config, spec, nets, _ = load_model(run)
    imgs = generate(model, nets, latents_for_seeds(model, config, seeds))
    u8 = ((imgs.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return [np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.LANCZOS))
            for a in u8]


def _save(arr, path):
    Image.fromarray(arr).save(path)
    return path


def _png(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


# ------------------------------------------------------------------ the optimisation


def test_projection_reduces_the_distance_and_writes_its_files(run, run_cli, tmp_path):
    photos = [_save(a, tmp_path / f"photo{i}.png") for i, a in enumerate(_generated(run, [101, 202]))]
    res = run_cli("project", run, *photos, "--out", tmp_path / "proj", "--json", "--gif", *FAST)
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == ["photo0", "photo1"]
    for r in rows:
        assert r["distance"] == "multiscale"
        # the optimisation moves far below the best of the random candidates it started from
        assert r["perceptual"] < 0.8 * r["start_perceptual"], r
        assert r["pixel"] < r["start_pixel"], r
        z = np.load(tmp_path / "proj" / f"{r['name']}.npy", allow_pickle=False)
        assert z.shape == (1, 100) and z.dtype == np.float32 and np.isfinite(z).all()
        pair = _png(tmp_path / "proj" / f"{r['name']}.png")
        assert pair.shape == (32, 66, 3)  # photo | 2 px | projection
        with Image.open(tmp_path / "proj" / f"{r['name']}.gif") as gif:
            assert gif.n_frames > 10
    # no temp files left behind
    assert sorted(p.name for p in (tmp_path / "proj").iterdir()) == [
        "photo0.gif", "photo0.npy", "photo0.png", "photo1.gif", "photo1.npy", "photo1.png"]


def test_projection_prints_the_distance_used_and_refuses_to_overwrite(run, run_cli, tmp_path):
    photo = _save(_generated(run, [7])[0], tmp_path / "a.png")
    res = run_cli("project", run, photo, "--out", tmp_path / "p", "--steps", "3",
                  "--candidates", "2", "--distance", "multiscale")
    assert res.exit_code == 0, res.output
    assert "perceptual distance: multiscale" in res.output
    assert "a.png: perceptual" in res.output
    before = (tmp_path / "p" / "a.npy").read_bytes()
    again = run_cli("project", run, photo, "--out", tmp_path / "p", "--steps", "3",
                    "--seed", "5", "--candidates", "2", "--distance", "multiscale")
    assert again.exit_code == 2 and "a.npy already exists; pass --force" in again.output
    assert (tmp_path / "p" / "a.npy").read_bytes() == before
    forced = run_cli("project", run, photo, "--out", tmp_path / "p", "--steps", "3",
                     "--seed", "5", "--candidates", "2", "--distance", "multiscale", "--force")
    assert forced.exit_code == 0, forced.output


def test_batching_changes_nothing_but_the_speed(run, tmp_path):
    from gankit.loading import load_model

    model, config, spec, nets, _ = load_model(run)
    x = torch.from_numpy(np.stack(_generated(run, [1, 2, 3]))).permute(0, 3, 1, 2).float() / 127.5 - 1
    s = projection.Settings(steps=6, candidates=4, distance="multiscale")
    p = projection.Perceptual("multiscale")
    whole = projection.project_batch(model, nets, config, x, s, p)
    # photo 0 alone reaches the same z: the loss of each photo depends on its own z only
    torch.manual_seed(0)
    alone = projection.project_batch(model, nets, config, x[:1], s, p)
    assert whole[0].shape == (3, 100)
    # the noise ramp draws (N, D) at once, so compare without noise
    s0 = projection.Settings(steps=6, candidates=4, distance="multiscale", noise=0)
    a = projection.project_batch(model, nets, config, x, s0, p)[0]
    b = projection.project_batch(model, nets, config, x[1:2], s0, p)[0]
    torch.testing.assert_close(a[1:2], b, rtol=1e-3, atol=1e-4)
    assert alone[0].shape == (1, 100)


# ------------------------------------------------------------------ --z files


def test_a_projected_latent_round_trips_through_sample_and_interpolate(run, run_cli, tmp_path):
    from gankit.latent import read_z_file
    from gankit.loading import load_model
    from gankit.sampling import generate

    photo = _save(_generated(run, [11])[0], tmp_path / "me.png")
    assert run_cli("project", run, photo, "--out", tmp_path / "p", *FAST).exit_code == 0
    npy = tmp_path / "p" / "me.npy"
    model, config, spec, nets, _ = load_model(run)
    z = read_z_file(npy, model, config)
    # the file holds exactly the float32 values (saving it again gives the same bytes)
    projection.save_latent(tmp_path / "again.npy", z)
    assert (tmp_path / "again.npy").read_bytes() == npy.read_bytes()
    expected = generate(model, nets, z).numpy()
    res = run_cli("sample", run, "--z", npy, "--out", tmp_path / "s.npy")
    assert res.exit_code == 0, res.output
    assert np.array_equal(np.load(tmp_path / "s.npy"), expected)  # bit for bit
    # the projection's right half is that very picture
    u8 = ((torch.from_numpy(expected[0]).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    assert np.array_equal(_png(tmp_path / "p" / "me.png")[:, 34:], u8.permute(1, 2, 0).numpy())
    # interpolate from it to seed 3: the first frame is the projection, the last seed 3
    other = tmp_path / "seed3.npy"
    from gankit.latent import latents_for_seeds

    projection.save_latent(other, latents_for_seeds(model, config, [3]))
    res = run_cli("interpolate", run, "--z-a", npy, "--z-b", other, "--steps", "3",
                  "--out", tmp_path / "walk")
    assert res.exit_code == 0, res.output
    # (drawn in a batch of three frames: the same latents, the same pixels up to rounding)
    first = _png(tmp_path / "walk" / "frame-000.png")
    assert np.abs(first - u8.permute(1, 2, 0).numpy()).max() <= 1
    seed3 = run_cli("sample", run, "--seeds", "3", "--out", tmp_path / "s3.png")
    assert seed3.exit_code == 0
    assert np.abs(_png(tmp_path / "walk" / "frame-002.png") - _png(tmp_path / "s3.png")).max() <= 1


def test_sample_takes_several_z_files_and_labels_them(run, run_cli, tmp_path):
    from gankit.latent import latents_for_seeds
    from gankit.loading import load_model

    model, config, *_ = load_model(run)
    projection.save_latent(tmp_path / "a.npy", latents_for_seeds(model, config, [5]))
    projection.save_latent(tmp_path / "b.npy", latents_for_seeds(model, config, [6]))
    res = run_cli("sample", run, "--z", tmp_path / "a.npy", "--z", tmp_path / "b.npy",
                  "--out", tmp_path / "two.png")
    assert res.exit_code == 0, res.output
    ref = run_cli("sample", run, "--seeds", "5,6", "--out", tmp_path / "ref.png")
    assert ref.exit_code == 0
    assert np.array_equal(_png(tmp_path / "two.png"), _png(tmp_path / "ref.png"))
    both = run_cli("sample", run, "--z", tmp_path / "a.npy", "--seeds", "1")
    assert both.exit_code == 2 and "--z" in both.output


@pytest.mark.parametrize("content,match", [
    (np.zeros((1, 7), np.float32), r"shape \(1, 7\), model 'dcgan' needs \(100,\)"),
    (np.full((1, 100), np.nan, np.float32), "NaN or infinite"),
    (np.zeros((1, 100), np.int64), "int64 values"),
    (b"not a numpy file", "not a .npy latent"),
    (np.zeros((2, 3, 100), np.float32), r"shape \(2, 3, 100\)"),
])
def test_bad_z_files_are_one_line_each(run, run_cli, tmp_path, content, match):
    bad = tmp_path / "bad.npy"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        np.save(bad, content)
    for args in (("sample", run, "--z", bad, "--out", tmp_path / "x.png"),
                 ("interpolate", run, "--z-a", bad, "--seed-b", "1", "--out", tmp_path / "w")):
        res = run_cli(*args)
        assert res.exit_code != 0
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
        assert str(bad) in lines[0]
        import re

        assert re.search(match, lines[0]), lines[0]
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "w").exists()


def test_a_pickled_npy_is_refused_without_unpickling(run, run_cli, tmp_path):
    bad = tmp_path / "pickle.npy"
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    res = run_cli("sample", run, "--z", bad, "--out", tmp_path / "x.png")
    assert res.exit_code != 0 and "not a .npy latent" in res.output


# ------------------------------------------------------------------ bad input


def _err_line(res):
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert res.exit_code != 0 and len(errors) == 1, res.output
    assert "Traceback" not in res.output
    return errors[0]


def test_a_photo_of_another_size_and_aspect_is_resized_once(run, run_cli, tmp_path):
    wide = np.zeros((40, 90, 3), np.uint8)
    wide[:, 25:65] = _generated(run, [4], size=40)[0]  # the picture in the middle
    photos = [_save(wide, tmp_path / "wide.png"), _save(wide, tmp_path / "wide2.png")]
    res = run_cli("project", run, *photos, "--out", tmp_path / "p", *FAST)
    assert res.exit_code == 0, res.output
    said = [ln for ln in res.output.splitlines() if "resized as training did" in ln]
    assert len(said) == 1 and "2 picture(s)" in said[0] and "90x40" in said[0]
    assert _png(tmp_path / "p" / "wide.png").shape == (32, 66, 3)


def test_a_grey_photo_goes_into_a_colour_run(run, run_cli, tmp_path):
    grey = Image.fromarray(_generated(run, [9])[0]).convert("L")
    grey.save(tmp_path / "grey.png")
    res = run_cli("project", run, tmp_path / "grey.png", "--out", tmp_path / "p", *FAST)
    assert res.exit_code == 0, res.output
    assert "1 grey picture(s) repeated to RGB" in res.output
    left = _png(tmp_path / "p" / "grey.png")[:, :32]
    assert (left[..., 0] == left[..., 1]).all() and (left[..., 1] == left[..., 2]).all()


def test_a_corrupt_photo_is_one_line_and_nothing_is_written(run, run_cli, tmp_path):
    good = _save(_generated(run, [1])[0], tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    res = run_cli("project", run, good, tmp_path / "broken.png", "--out", tmp_path / "p", *FAST)
    line = _err_line(res)
    assert "broken.png: cannot read image" in line
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())


def test_a_translation_run_is_refused_in_one_line(run_cli, plugins, tmp_path):
    from test_latent import fake_translation_run

    run_dir = fake_translation_run(plugins, tmp_path / "trans")
    _save(np.zeros((16, 16, 3), np.uint8), tmp_path / "x.png")
    res = run_cli("project", run_dir, tmp_path / "x.png", "--out", tmp_path / "p")
    line = _err_line(res)
    assert "translation model" in line and "gankit translate" in line
    assert not (tmp_path / "p").exists()
    for d in (tmp_path / "pos", tmp_path / "neg"):
        d.mkdir()
        _save(np.zeros((16, 16, 3), np.uint8), d / "x.png")
    res = run_cli("direction", "fit", "t", run_dir, "--positive-images", tmp_path / "pos",
                  "--negative-images", tmp_path / "neg")
    assert "translation model" in _err_line(res)


def test_a_huge_folder_is_capped(run, run_cli, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    arr = _generated(run, [2])[0]
    for i in range(30):
        _save(arr, folder / f"{i:03d}.png")
    res = run_cli("project", run, folder, "--out", tmp_path / "p", "--max-images", "3",
                  "--steps", "2", "--candidates", "2", "--distance", "multiscale")
    assert res.exit_code == 0, res.output
    assert "30 pictures, projecting 3 of them" in res.output
    assert sorted(p.name for p in (tmp_path / "p").glob("*.npy")) == [
        "000.npy", "010.npy", "020.npy"]
    res = run_cli("project", run, folder, "--out", tmp_path / "q", "--max-images", "0")
    assert "--max-images 0" in _err_line(res)


def test_out_inside_the_run_and_bad_flags_are_refused(run, run_cli, tmp_path):
    photo = _save(_generated(run, [1])[0], tmp_path / "a.png")
    assert "inside the run folder" in _err_line(
        run_cli("project", run, photo, "--out", run / "proj"))
    assert "--steps 0" in _err_line(run_cli("project", run, photo, "--steps", "0"))
    assert "--distance fast" in _err_line(run_cli("project", run, photo, "--distance", "fast"))
    assert "no such file" in _err_line(run_cli("project", run, tmp_path / "nope.png"))
    assert not (run / "proj").exists()


# ------------------------------------------------------------------ directions from pictures


def test_a_direction_from_two_folders_of_pictures(run, run_cli, tmp_path):
    from gankit.latent import list_directions

    pos, neg = tmp_path / "pos", tmp_path / "neg"
    for folder, seeds in ((pos, [21, 22, 23]), (neg, [31, 32])):
        folder.mkdir()
        for s, arr in zip(seeds, _generated(run, seeds)):
            _save(arr, folder / f"s{s}.png")
    flags = ["--steps", "12", "--candidates", "4", "--distance", "multiscale", "--noise", "0"]
    res = run_cli("direction", "fit", "pics", run, "--positive-images", pos,
                  "--negative-images", neg, *flags)
    assert res.exit_code == 0, res.output
    assert "3 positive vs 2 negative pictures projected (multiscale distance)" in res.output
    (row,) = [r for r in list_directions(run) if r["name"] == "pics"]
    assert row["source"] == "images" and row["method"] == "mean"
    assert row["n_positive"] == 3 and row["n_negative"] == 2 and row["positive"] == str(pos)
    # the direction is the difference of the means of the folders' projections
    for folder in (pos, neg):
        assert run_cli("project", run, folder, "--out", tmp_path / f"p-{folder.name}",
                       *flags).exit_code == 0
    mean = {f: np.concatenate([np.load(p) for p in sorted((tmp_path / f"p-{f}").glob("*.npy"))])
            .mean(0) for f in ("pos", "neg")}
    from safetensors.numpy import load_file

    vec = load_file(run / "directions" / "pics.safetensors")["direction"]
    np.testing.assert_allclose(vec, mean["pos"] - mean["neg"], rtol=1e-3, atol=1e-4)
    # it works like any direction: sample --direction moves the samples
    a = run_cli("sample", run, "--seeds", "1,2", "--out", tmp_path / "a.png")
    b = run_cli("sample", run, "--seeds", "1,2", "--direction", "pics:2", "--out",
                tmp_path / "b.png")
    assert a.exit_code == b.exit_code == 0
    assert not np.array_equal(_png(tmp_path / "a.png"), _png(tmp_path / "b.png"))
    # the classifier's normal is another direction, of the same length along it
    res = run_cli("direction", "fit", "pics-lr", run, "--positive-images", pos,
                  "--negative-images", neg, "--method", "classifier", *flags)
    assert res.exit_code == 0, res.output
    lr = load_file(run / "directions" / "pics-lr.safetensors")["direction"]
    d = mean["pos"] - mean["neg"]
    assert float(lr @ d) == pytest.approx(float(lr @ lr), rel=1e-3)  # d's length along lr
    assert not np.allclose(lr, d)


def test_fit_vector_classifier_finds_the_separating_axis():
    from gankit.latent import fit_vector

    g = torch.Generator().manual_seed(0)
    zp, zn = torch.randn(40, 6, generator=g), torch.randn(40, 6, generator=g)
    zp[:, 2] += 3.0  # the attribute is axis 2; axis 4 differs by chance only in the means
    zn[:, 4] += 0.2 * torch.randn(40, generator=g)
    v = fit_vector(zp, zn, "classifier")
    assert int(v.abs().argmax()) == 2 and v[2] > 0
    mean = fit_vector(zp, zn, "mean")
    torch.testing.assert_close(mean, zp.mean(0) - zn.mean(0))


def test_direction_fit_from_pictures_bad_input(run, run_cli, tmp_path):
    pos, neg = tmp_path / "pos", tmp_path / "neg"
    pos.mkdir()
    neg.mkdir()
    arr = _generated(run, [1])[0]
    _save(arr, pos / "a.png")
    (neg / "broken.png").write_bytes(b"nope")
    res = run_cli("direction", "fit", "x", run, "--positive-images", pos, "--negative-images", neg,
                  *FAST)
    assert "--negative-images: no readable pictures" in _err_line(res)
    assert not (run / "directions" / "x.safetensors").exists()
    assert "not both" in _err_line(run_cli("direction", "fit", "x", run, "--positive", "1",
                                           "--negative-images", neg))
    assert "both --positive-images" in _err_line(run_cli("direction", "fit", "x", run,
                                                         "--positive-images", pos))
    assert "share" in _err_line(run_cli("direction", "fit", "x", run, "--positive-images", pos,
                                        "--negative-images", pos))
    assert "not a folder" in _err_line(run_cli("direction", "fit", "x", run, "--positive-images",
                                               pos / "a.png", "--negative-images", neg))


# ------------------------------------------------------------------ the optional encoder


def test_fit_encoder_is_trained_once_cached_and_refitted_when_stale(run, run_cli, tmp_path,
                                                                      monkeypatch):
    from gankit.checkpoints import read_header
    from gankit.loading import load_model

    from gankit import encoder

    monkeypatch.setattr(encoder, "ENCODER_STEPS", 5)
    model, config, spec, nets, c = load_model(run)
    _, loss = encoder.fit_encoder(model, nets, config, spec, steps=120)
    # it learns z from the pictures: guessing z = 0 gives 1 (z ~ N(0, 1); 3,200 values a
    # batch, so the last batch's error is within about 0.03 of its expectation)
    assert loss < 0.92
    photo = _save(_generated(run, [5])[0], tmp_path / "a.png")
    args = ("project", run, photo, "--out", tmp_path / "p", "--fit-encoder", *FAST)
    first = run_cli(*args)
    assert first.exit_code == 0, first.output
    assert "encoder: fitting one" in first.output
    path = run / "encoder.safetensors"
    meta = read_header(path)
    assert meta["gankit.encoder"] == "1" and meta["step"] == str(c.step)
    before = path.read_bytes()
    again = run_cli(*args, "--force")
    assert again.exit_code == 0, again.output
    assert "fitting" not in again.output and "encoder.safetensors (fitted for step" in again.output
    assert path.read_bytes() == before
    # a damaged cache (gankit's own file) is fitted again, never loaded
    path.write_bytes(b"garbage")
    third = run_cli(*args, "--force")
    assert third.exit_code == 0 and "cached encoder: unreadable" in third.output
    assert read_header(path)["step"] == str(c.step)
    path.unlink()


def test_a_2d_run_is_refused_in_one_line(run_cli, tmp_path):
    res = run_cli("train", "vanilla", "--dataset", "ring8", "--batch-size", "16", "--steps", "2",
                  "--out", tmp_path / "runs", "--name", "ring", "--quiet")
    assert res.exit_code == 0, res.output
    _save(np.zeros((16, 16, 3), np.uint8), tmp_path / "x.png")
    line = _err_line(run_cli("project", tmp_path / "runs" / "ring", tmp_path / "x.png",
                             "--out", tmp_path / "p"))
    assert "vector data, not images" in line
    assert not (tmp_path / "p").exists()
