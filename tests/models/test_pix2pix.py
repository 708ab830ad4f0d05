"""pix2pix: the paired layouts and their refusals, the step, exact resume, and
translate / export / evaluate / data check on a pix2pix run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from gankit import checkpoints as ckpt

TINY = ["--image-size", "32", "--set", "ngf=8", "--set", "ndf=8", "--batch-size", "2",
        "--sample-every", "0", "--log-every", "2", "--quiet"]


def pair(i, size=40, grey=False):
    """A: a red disc on blue at a place set by i; B: a green square at the same place."""
    x, y = 3 + (7 * i) % (size - 18), 3 + (11 * i) % (size - 18)
    a = Image.new("RGB", (size, size), (20, 30, 120))
    ImageDraw.Draw(a).ellipse([x, y, x + 13, y + 13], fill=(240, 40, 40))
    b = Image.new("RGB", (size, size), (230, 210, 60))
    ImageDraw.Draw(b).rectangle([x, y, x + 12, y + 12], fill=(40, 160, 40))
    return (a.convert("L") if grey else a), b


def aligned(folder, n, start=0, size=40):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        a, b = pair(i, size)
        both = Image.new("RGB", (2 * size, size))
        both.paste(a, (0, 0))
        both.paste(b, (size, 0))
        both.save(folder / f"{i:03d}.png")
    return folder


def two_folders(root, n, grey_a=False):
    fa, fb = root / "A", root / "B"
    fa.mkdir(parents=True, exist_ok=True)
    fb.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a, b = pair(i, grey=grey_a)
        a.save(fa / f"{i:03d}.png")
        b.save(fb / f"{i:03d}.jpg" if i % 2 else fb / f"{i:03d}.png")
    return fa, fb


def refused(res, *needles):
    assert "Traceback" not in res.output, res.output
    assert res.exit_code != 0, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])
    return lines[0]


# -- training on each layout -----------------------------------------------------------------


def test_trains_on_the_aligned_layout_with_val_pairs_held_out(run_cli, tmp_path):
    root = tmp_path / "facades"
    aligned(root / "train", 6)
    aligned(root / "val", 2, start=50)
    res = run_cli("train", "pix2pix", "--data", root, *TINY, "--steps", "4",
                  "--sample-every", "4", "--checkpoint-every", "4", "--name", "r")
    assert res.exit_code == 0, res.stderr
    run = tmp_path / "runs" / "r"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["loss"] == "bce" and cfg["options"]["image_size"] == 32
    assert cfg["data"]["channels"] == 3 and cfg["data"]["name"] == "facades A -> facades B"
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"loss_d", "loss_g_gan", "loss_l1"} <= set(lines[-1])
    assert all(np.isfinite(v) for r in lines for v in r.values())
    c = ckpt.Checkpoint(ckpt.list_checkpoints(run)[-1])
    s = c.state()
    assert set(s["nets"]) == {"G", "D"}
    # D sees the input and the output (or target) side by side in the channels
    assert s["nets"]["D"]["model.0.weight"].shape[1] == 6
    assert s["nets"]["G"]["model.model.0.weight"].shape[1] == 3
    assert "crop_gen" in s["extra"]
    # previews: input | output | target for the two held-out val pairs
    with Image.open(run / "samples" / "step-000004.png") as im:
        assert im.size == (3 * 32 + 4 * 2, 2 * 32 + 3 * 2)
        grid = np.asarray(im.convert("RGB")).astype(int)
    inp, target = grid[2:34, 2:34], grid[2:34, 2 + 2 * 34:34 + 2 * 34]
    assert inp[..., 2].mean() > inp[..., 1].mean()  # blue input
    assert target[..., 0].mean() > target[..., 2].mean()  # yellow target


def test_two_folders_pair_by_name_and_direction_swaps(run_cli, tmp_path):
    fa, fb = two_folders(tmp_path, 5)
    res = run_cli("train", "pix2pix", "--data", fa, "--data-b", fb, *TINY, "--steps", "2",
                  "--direction", "BtoA", "--name", "ba")
    assert res.exit_code == 0, res.stderr
    cfg = json.loads((tmp_path / "runs" / "ba" / "config.json").read_text())
    assert cfg["data"]["name"] == "B -> A"


def test_sushi_day_dusk_pairs_are_the_builtin_demo(plugins):
    from gankit.train import TrainOptions

    model = plugins.models().get("pix2pix")
    opts = TrainOptions(model="pix2pix", image_size=32, data_options={"count": 10})
    data = model.load_data(plugins, opts)
    assert data.spec.channels == 3 and data.spec.size == 32
    assert data.spec.name == "sushi -> sushi-dusk"
    held = data.meta["pairs"]
    assert held["input"].shape == (1, 3, 32, 32) and len(data) == 9
    # each pair is one stacked image at the load size: the same scene by day, then at dusk
    assert data.samples.shape == (9, 6, 36, 36) and data.samples.dtype == torch.uint8
    day, dusk = data.samples[:, :3].float(), data.samples[:, 3:].float()
    assert not torch.equal(day, dusk)
    lit = day.mean(1) > 20  # the same arrangement: where the day scene is lit, dusk is too
    assert (dusk.mean(1)[lit] > 10).float().mean() > 0.9


def test_edges_pairs_and_the_edge_operator(plugins, run_cli, tmp_path):
    from gankit_pix2pix.data import edge_map

    img = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    img[:, :, 8:24, 8:24] = 200
    e = edge_map(img)
    assert e.shape == img.shape and set(e.unique().tolist()) <= {0, 255}
    lines = e[0, 0] == 0
    assert lines[6:10, 10:22].any() and lines[21:26, 10:22].any()  # the square's outline
    assert not lines[12:20, 12:20].any() and not lines[:4, :4].any()  # flat areas: white
    assert lines.float().mean() < 0.25
    res = run_cli("train", "pix2pix", "--pairs", "edges", "--set", "data.count=6", *TINY,
                  "--steps", "2", "--name", "e")
    assert res.exit_code == 0, res.stderr
    cfg = json.loads((tmp_path / "runs" / "e" / "config.json").read_text())
    assert cfg["data"]["name"] == "edges -> sushi"
    assert cfg["options"]["extra"]["pairs"] == "edges"


# -- refusals: one line, nothing written -----------------------------------------------------


def _unpaired(tmp_path):
    for d in ("trainA", "trainB"):
        aligned(tmp_path / "h2z" / d, 3)
    return ["--data", tmp_path / "h2z"]


def _missing_partner(tmp_path):
    fa, fb = two_folders(tmp_path, 4)
    (fb / "002.png").unlink()
    return ["--data", fa, "--data-b", fb]


def _no_partner_at_all(tmp_path):
    fa, fb = two_folders(tmp_path, 4)
    for f in fb.iterdir():
        f.rename(fb / ("x" + f.name))
    return ["--data", fa, "--data-b", fb]


def _size_mismatch(tmp_path):
    fa, fb = two_folders(tmp_path, 4)
    Image.new("RGB", (50, 40)).save(fb / "001.jpg")
    return ["--data", fa, "--data-b", fb]


def _not_twice_as_wide(tmp_path):
    aligned(tmp_path / "f" / "train", 3)
    Image.new("RGB", (60, 40)).save(tmp_path / "f" / "train" / "009.png")
    return ["--data", tmp_path / "f"]


def _single_pair(tmp_path):
    aligned(tmp_path / "one", 1)
    return ["--data", tmp_path / "one"]


def _grey_a(tmp_path):
    fa, fb = two_folders(tmp_path, 4, grey_a=True)
    return ["--data", fa, "--data-b", fb]


def _a_and_b_under_one_root(tmp_path):
    two_folders(tmp_path / "root", 4)
    return ["--data", tmp_path / "root"]


CASES = {
    "A/ and B/ under --data": (_a_and_b_under_one_root, ["holds A/ and B/", "--data-b"]),
    "unpaired folders": (_unpaired, ["trainA", "unpaired", "cyclegan"]),
    "missing partner": (_missing_partner, ["--data-b", "002.png", "no partner"]),
    "no partner at all": (_no_partner_at_all, ["no file of one has a partner", "cyclegan"]),
    "size mismatch": (_size_mismatch, ["differ in size", "001.png 40x40 vs 001.jpg 50x40"]),
    "width not twice height": (_not_twice_as_wide, ["009.png", "60x40", "twice the height"]),
    "single pair": (_single_pair, ["1 pair(s)", "at least 3"]),
    "grey A, colour B": (_grey_a, ["--data holds grayscale", "--data-b colour"]),
    "augment": (lambda p: ["--augment", "color"], ["--augment color", "DiffAugment"]),
    "direction": (lambda p: ["--direction", "up"], ["--direction up", "AtoB"]),
    "pairs": (lambda p: ["--pairs", "sketch"], ["--pairs sketch", "edges"]),
    "other dataset": (lambda p: ["--dataset", "cifar10"], ["--dataset cifar10", "--pairs edges"]),
    "edges with data-b": (lambda p: ["--pairs", "edges", "--data-b", p], ["leave out --data-b"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_paired_data_is_one_line_and_writes_nothing(run_cli, tmp_path, case):
    make, needles = CASES[case]
    args = make(tmp_path)
    res = run_cli("train", "pix2pix", *args, *TINY, "--steps", "1", "--name", "x")
    refused(res, *needles)
    assert not (tmp_path / "runs").exists()


def test_flips_and_crops_keep_each_pair_aligned():
    """Input and target travel as one stacked image: the batcher's flip and the step's
    crop move both halves alike (here B = 255 - A, so the halves sum to 0 in [-1, 1])."""
    from gankit_cyclegan.train import random_crop
    from gankit_pix2pix.train import as_pairs

    from gankit.train.batcher import Batcher

    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (12, 3, 36, 36), generator=g, dtype=torch.uint8)
    data = as_pairs(a, 255 - a, [str(i) for i in range(12)], None, 32, "AtoB", ("a", "b"))
    assert data.samples.shape == (11, 6, 36, 36) and data.meta["pairs"]["input"].shape[0] == 1
    batcher = Batcher(data, 8, torch.device("cpu"), seed=1, flip=True, channels_last=False)
    assert batcher.flip
    for _ in range(4):  # two epochs: about half the pictures flipped, each pair alike
        x = random_crop(batcher.next(), 32, torch.Generator().manual_seed(2))
        assert torch.allclose(x[:, :3] + x[:, 3:], torch.zeros(()), atol=1e-5)
    # BtoA swaps the halves
    swapped = as_pairs(a, 255 - a, [str(i) for i in range(12)], None, 32, "BtoA", ("a", "b"))
    assert torch.equal(swapped.samples[:, :3], data.samples[:, 3:])
    assert swapped.spec.name == "b -> a"


def test_evaluate_on_a_cyclegan_run_says_there_are_no_pairs(run_cli, tmp_path):
    fa, fb = two_folders(tmp_path, 4)
    res = run_cli("train", "cyclegan", "--data", fa, "--data-b", fb, *TINY, "--set",
                  "n_blocks=1", "--steps", "1", "--name", "cg")
    assert res.exit_code == 0, res.stderr
    refused(run_cli("evaluate", tmp_path / "runs" / "cg", "--device", "cpu"),
            "no held-out pairs", "gankit translate")
    assert not (tmp_path / "runs" / "cg" / "metrics").exists()


# -- resume ------------------------------------------------------------------------------------


def test_resume_continues_bit_for_bit_with_ema(run_cli, tmp_path):
    root = aligned(tmp_path / "pairs", 7)
    common = ["train", "pix2pix", "--data", root, *TINY, "--ema", "0.01", "--decay-from", "3",
              "--checkpoint-every", "100"]
    assert run_cli(*common, "--steps", "6", "--name", "straight").exit_code == 0
    assert run_cli(*common, "--steps", "3", "--name", "half").exit_code == 0
    res = run_cli("train", "--resume", tmp_path / "runs" / "half", "--steps", "6", "--quiet")
    assert res.exit_code == 0, res.stderr
    x = ckpt.Checkpoint(ckpt.list_checkpoints(tmp_path / "runs" / "straight")[-1]).tensors()
    y = ckpt.Checkpoint(ckpt.list_checkpoints(tmp_path / "runs" / "half")[-1]).tensors()
    assert x.keys() == y.keys()
    assert {"s.extra.crop_gen"} <= set(x) and any(k.startswith("s.ema.G") for k in x)
    assert [k for k in x if not torch.equal(x[k], y[k])] == []


# -- using a run -------------------------------------------------------------------------------


@pytest.fixture
def p2p_run(run_cli, tmp_path):
    root = tmp_path / "facades"
    aligned(root / "train", 6)
    aligned(root / "test", 5, start=40)
    res = run_cli("train", "pix2pix", "--data", root, *TINY, "--steps", "2", "--name", "p")
    assert res.exit_code == 0, res.stderr
    return tmp_path / "runs" / "p"


def test_translate_evaluate_and_export_a_pix2pix_run(run_cli, p2p_run, tmp_path):
    ins = tmp_path / "in"
    ins.mkdir()
    pair(3)[0].save(ins / "x.png")
    res = run_cli("translate", p2p_run, ins, "--out", tmp_path / "out", "--side-by-side",
                  "--quiet")
    assert res.exit_code == 0, res.stderr
    with Image.open(tmp_path / "out" / "x.png") as im:
        assert im.size == (80, 40)
    refused(run_cli("translate", p2p_run, ins, "--direction", "b2a", "--out", tmp_path / "o2"),
            "--direction b2a", "one way")

    res = run_cli("evaluate", p2p_run, "--json", "--device", "cpu", "--quiet")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    m = out["metrics"]
    assert out["pairs"] == 5 and out["data"]["held_out"][0] == "040.png"
    assert 0 <= m["l1"] <= 1 and -1 <= m["ssim"] <= 1 and m["psnr"] > 0
    assert "swd" in m and "kid" in m
    assert (p2p_run / "metrics" / "eval-step-0000002.json").is_file()
    refused(run_cli("evaluate", p2p_run, "-n", "10"), "-n", "translation run")

    res = run_cli("export", p2p_run, tmp_path / "p.pt", "--format", "torchscript", "--quiet")
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "p.pt").is_file() and not (tmp_path / "p-b2a.pt").exists()
    refused(run_cli("export", p2p_run, tmp_path / "q.pt", "--format", "torchscript",
                    "--direction", "b2a"), "--direction b2a", "a2b only")


def test_pair_metrics_by_hand():
    from gankit.metrics.paired import l1, pair_scores, psnr, ssim

    a = torch.randint(0, 256, (3, 3, 24, 24), dtype=torch.uint8)
    same = pair_scores(a, a)
    assert same["l1"] == 0 and same["psnr"] == 100 and abs(same["ssim"] - 1) < 1e-5
    b = (a.int() + 51).clamp(0, 255).to(torch.uint8)
    assert torch.allclose(l1(a, b), (b.float() - a.float()).abs().flatten(1).mean(1) / 255)
    mse = ((b.float() - a.float()) / 255).pow(2).flatten(1).mean(1)
    assert torch.allclose(psnr(a, b), -10 * torch.log10(mse))
    noise = torch.randint(0, 256, a.shape, dtype=torch.uint8)
    assert ssim(a, noise).mean() < 0.2 < ssim(a, b).mean()


def test_data_check_recognises_the_paired_layouts(run_cli, tmp_path):
    root = tmp_path / "facades"
    aligned(root / "train", 3)
    aligned(root / "val", 2, start=9)
    res = run_cli("data", "check", root, "--json")
    assert res.exit_code == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["pairs"] == {"layout": "aligned", "pairs": 5, "not_aligned": 0,
                            "splits": {"train": 3, "val": 2}}
    assert any("gankit train pix2pix --data" in n for n in rep["notes"])
    two = tmp_path / "two"
    two_folders(two, 4)
    rep = json.loads(run_cli("data", "check", two, "--json").stdout)
    assert rep["pairs"]["layout"] == "two folders" and rep["pairs"]["pairs"] == 4
    assert any("--data-b" in n for n in rep["notes"])


# -- the studio: the drawing canvas of an edge-trained run -----------------------------------


def test_studio_offers_a_canvas_and_one_direction(tmp_path):
    import http.client
    import io
    import threading

    from gankit.studio import open_studio
    from kit import cli_ok

    runs = tmp_path / "runs"
    cli_ok("train", "pix2pix", "--pairs", "edges", "--set", "data.count=6", *TINY, "--steps", "2",
        "--out", runs, "--name", "e")
    srv = open_studio(None, runs, device="cpu")
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()

    def call(method, path, body=None, ctype="image/png"):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        conn.request(method, path, body=body, headers={"Content-Type": ctype} if body else {})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        conn.close()
        return resp.status, data

    def drawing(lines, size=(32, 32)):
        img = Image.new("RGB", size, "white")
        d = ImageDraw.Draw(img)
        for xy in lines:
            d.line(xy, fill="black", width=2)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()

    try:
        status, info = call("GET", "/api/run?run=e")
        assert status == 200 and info["canvas"] is True and info["translations"] == ["a2b"]
        status, one = call("POST", "/api/translate?run=e&direction=a2b",
                           drawing([(4, 4, 28, 28)]))
        assert status == 200 and one["back"] is None and one["output"].startswith("data:")
        _, two = call("POST", "/api/translate?run=e&direction=a2b",
                      drawing([(4, 28, 28, 4), (16, 2, 16, 30)]))
        assert two["output"] != one["output"]
        status, err = call("POST", "/api/translate?run=e&direction=b2a", drawing([]))
        assert status == 400 and "one way" in err["error"]
        # a drawing over the pixel cap is refused like any upload, before it is decoded
        status, err = call("POST", "/api/translate?run=e", drawing([], size=(8000, 8000)))
        assert status == 413 and "8000x8000" in err["error"]
    finally:
        srv.shutdown()
        srv.close()
