"""`gankit studio`: the HTTP API in-process on a free port, every endpoint and refusal."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from kit import cli_ok
from kit.studio import make_runs
from kit.browser import serve_studio


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A runs folder with a tiny DCGAN ``r``, a tiny CycleGAN ``cg`` and a 2-D ``ring``."""
    return make_runs(tmp_path_factory.mktemp("studio"), ring=True)


@pytest.fixture(scope="module")
def server(runs):
    with serve_studio(runs) as srv:
        yield srv


class Answer:
    def __init__(self, resp, body):
        self.status, self.headers, self.body = resp.status, resp.headers, body

    def json(self):
        assert self.headers["Content-Type"] == "application/json", self.body[:200]
        return json.loads(self.body)

    @property
    def error(self):
        data = self.json()
        assert set(data) == {"error"} and data["error"], data
        return data["error"]


def call(server, method, path, body=None, headers=None, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{server.port}")
    for k, val in (headers or {}).items():
        conn.putheader(k, val)
    if body is not None and "Content-Length" not in (headers or {}):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return Answer(resp, data)


def get(server, path, **kw):
    return call(server, "GET", path, **kw)


def post_json(server, path, obj, **kw):
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return call(server, "POST", path, json.dumps(obj).encode(), headers=headers, **kw)


def pixels(url_or_bytes):
    data = url_or_bytes
    if isinstance(data, str):
        assert data.startswith("data:image/png;base64,")
        data = base64.b64decode(data.split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def refused(answer, status, *words):
    assert answer.status == status, (answer.status, answer.body[:300])
    msg = answer.error
    assert "Traceback" not in msg
    for w in words:
        assert w.lower() in msg.lower(), msg
    return msg


# -- page, static files, routing ---------------------------------------------------------------


def test_page_and_static_files(server):
    page = get(server, "/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.body.decode()
    assert '<script src="/static/studio.js"' in html
    # no outside resources: every src/href is local
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for name, ctype in (("studio.js", "text/javascript"), ("gankit-common.js", "text/javascript"),
                        ("studio.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        a = get(server, f"/static/{name}")
        assert a.status == 200 and a.headers["Content-Type"].startswith(ctype) and a.body
    assert get(server, "/?run=r").status == 200


@pytest.mark.parametrize("path", [
    "/static/../__init__.py", "/static/..%2f__init__.py", "/static/%2e%2e/server.py",
    "/static/nope.js", "/static/", "/static/STUDIO.JS", "/static//etc/passwd",
    "/../../etc/passwd", "/api/nope", "/api", "/favicon.ico",
])
def test_unknown_paths_are_404_json(server, path):
    refused(get(server, path), 404)


def test_wrong_methods_and_hosts(server):
    refused(call(server, "POST", "/", b"x", {"Content-Type": "text/plain"}), 405)
    refused(call(server, "POST", "/api/samples?seeds=1", b""), 405, "GET")
    refused(get(server, "/api/directions"), 405, "POST")
    assert call(server, "HEAD", "/").status == 200
    assert call(server, "HEAD", "/api/walk?seeds=1,2").status == 405
    a = call(server, "DELETE", "/api/runs")
    assert a.status == 405 and a.json()["error"]
    refused(get(server, "/api/runs", host="evil.example:80"), 403, "not this studio")
    assert get(server, "/api/runs", host=f"localhost:{server.port}").status == 200
    refused(get(server, "/api/runs?x=1"), 400, "unknown parameter")
    refused(get(server, "/?foo=1"), 400, "unknown parameter")


# -- runs -----------------------------------------------------------------------------------------


def test_runs_and_run_info(server):
    data = get(server, "/api/runs").json()
    rows = {r["id"]: r for r in data["runs"]}
    assert set(rows) == {"r", "cg", "ring"} and data["default"] == "r"  # newest
    assert rows["r"]["model"] == "dcgan" and rows["r"]["step"] == 4
    assert rows["r"]["status"] == "completed" and rows["cg"]["model"] == "cyclegan"

    info = get(server, "/api/run?run=r").json()
    assert info["kind"] == "unconditional" and info["z_dim"] == 100 and info["truncation"]
    assert info["image_size"] == 32 and info["default_method"] == "slerp" and info["can_fit"]
    assert get(server, "/api/run").json()["id"] == "r"  # the default
    cg = get(server, "/api/run?run=cg").json()
    assert cg["kind"] == "translation" and cg["domains"] == {"a": "A", "b": "B"}


@pytest.mark.parametrize("run", ["nope", "../r", "r/..", "/etc", "runs/r", "r/checkpoints",
                                 ".", "", "%00"])
def test_run_selection_only_from_the_catalog(server, run):
    a = get(server, f"/api/run?run={run}")
    if run == "":
        assert a.status == 200  # empty = the default run
    else:
        refused(a, 404, "unknown run")
    refused(get(server, f"/api/samples?run={run or 'x'}&seeds=1"), 404, "unknown run")


# -- samples --------------------------------------------------------------------------------------


def test_samples_match_gankit_sample(server, tmp_path):
    data = get(server, "/api/samples?run=r&seeds=0-3,9&truncation=0.8").json()
    assert data["seeds"] == [0, 1, 2, 3, 9] and len(data["images"]) == 5
    imgs = [pixels(u) for u in data["images"]]
    assert imgs[0].shape == (32, 32, 3)
    assert imgs[0].std() > 0 and not np.array_equal(imgs[0], imgs[1])
    cmd = shlex.split(data["command"])
    assert cmd[:2] == ["gankit", "sample"] and "--truncation" in cmd
    # the command line, run, draws the same pictures
    out = tmp_path / "cli"
    args = cmd[1:cmd.index("--out")] + ["--out", f"{out}/"]
    cli_ok(*args)
    for i, seed in enumerate(data["seeds"]):
        assert np.abs(pixels((out / f"seed{seed:05d}.png").read_bytes()) - imgs[i]).max() <= 1
    # each image depends on its seed only; truncation changes the picture
    again = get(server, "/api/samples?run=r&seeds=9&truncation=0.8").json()
    assert np.abs(pixels(again["images"][0]) - imgs[4]).max() <= 1
    plain = get(server, "/api/samples?run=r&seeds=9").json()
    assert not np.array_equal(pixels(plain["images"][0]), imgs[4])


BAD_SAMPLES = [
    ("", 400, "missing parameter 'seeds'"),
    ("&seeds=", 400, "no seeds"),
    ("&seeds=abc", 400, "expected seeds"),
    ("&seeds=5-3", 400, "low to high"),
    ("&seeds=-1", 400, "expected seeds"),
    ("&seeds=1.5", 400, "expected seeds"),
    ("&seeds=0-99999999999", 400, "at most 64"),
    ("&seeds=0-64", 400, "at most 64"),
    (f"&seeds={2**63}", 400, "too large"),
    ("&seeds=1&seeds=2", 400, "given 2 times"),
    ("&seeds=" + "1," * 1500, 400, "too long"),
    ("&seeds=1&truncation=0", 400, "truncation"),
    ("&seeds=1&truncation=-1", 400, "truncation"),
    ("&seeds=1&truncation=nan", 400, "finite"),
    ("&seeds=1&truncation=inf", 400, "finite"),
    ("&seeds=1&truncation=11", 400, "0.05 to 10"),
    ("&seeds=1&truncation=1e-300", 400, "0.05 to 10"),
    ("&seeds=1&truncation=x", 400, "expected a number"),
    ("&seeds=1&directions=tuna", 400, "NAME:STRENGTH"),
    ("&seeds=1&directions=../x:1", 400, "direction name"),
    ("&seeds=1&directions=tuna:inf", 400, "within"),
    ("&seeds=1&directions=tuna:1e9", 400, "within"),
    ("&seeds=1&directions=tuna:x", 400, "must be a number"),
    ("&seeds=1&directions=nothere:1", 404, "no direction 'nothere'"),
    ("&seeds=1&client=bad%20id!", 400, "client"),
    ("&seeds=1&size=9", 400, "unknown parameter 'size'"),
    ("&" + "&".join(f"p{i}=1" for i in range(40)), 400, "too many"),
]


@pytest.mark.parametrize("query,status,words", BAD_SAMPLES)
def test_samples_refuse_bad_parameters(server, query, status, words):
    refused(get(server, "/api/samples?run=r" + query), status, words)


def test_samples_refuse_other_kinds_of_runs(server):
    refused(get(server, "/api/samples?run=cg&seeds=1"), 400, "translation")
    refused(get(server, "/api/samples?run=ring&seeds=1"), 400, "vector data")


# -- interpolation --------------------------------------------------------------------------------


def walk_lines(server, query):
    a = get(server, "/api/walk?" + query)
    assert a.status == 200, a.body[:300]
    assert a.headers["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in a.body.decode().splitlines()]


def test_walk_streams_frames_from_seed_a_to_seed_b(server):
    lines = walk_lines(server, "run=r&seeds=3,17&frames=6&method=slerp&fps=8&client=t1")
    start, frames, end = lines[0], lines[1:-1], lines[-1]
    assert start["type"] == "start" and start["frames"] == 6 and start["method"] == "slerp"
    assert end == {"type": "end", "frames": 6}
    assert [f["i"] for f in frames] == list(range(6))
    imgs = [pixels(f["image"]) for f in frames]
    assert all(not np.array_equal(imgs[i], imgs[i + 1]) for i in range(5))
    ends = get(server, "/api/samples?run=r&seeds=3,17").json()["images"]
    assert np.abs(imgs[0] - pixels(ends[0])).max() <= 1  # frame 0 is seed A
    assert np.abs(imgs[-1] - pixels(ends[1])).max() <= 1  # the last frame is seed B
    cmd = shlex.split(start["command"])
    assert cmd[:2] == ["gankit", "interpolate"] and cmd[cmd.index("--steps") + 1] == "6"
    assert cmd[cmd.index("--seed-a") + 1] == "3" and "--loop" not in cmd
    # a loop through three seeds: 3 * (frames - 1) frames; auto picks slerp for Gaussian z
    lines = walk_lines(server, "run=r&seeds=1,2,3&frames=4&loop=1")
    assert lines[0]["frames"] == 9 and lines[0]["method"] == "slerp" and len(lines) == 11


BAD_WALKS = [
    ("seeds=3", 400, "at least two"),
    ("seeds=1,2&frames=1", 400, "from 2 to 120"),
    ("seeds=1,2&frames=121", 400, "from 2 to 120"),
    ("seeds=0-8", 400, "at most 8"),
    ("seeds=0-7&frames=100&loop=1", 400, "too many"),
    ("seeds=1,2&method=cubic", 400, "choose one of"),
    ("seeds=1,2&loop=maybe", 400, "expected 1 or 0"),
    ("seeds=1,2&fps=0", 400, "fps"),
    ("seeds=1,2&fps=1000", 400, "fps"),
    ("seeds=1,2&frames=ten", 400, "whole number"),
]


@pytest.mark.parametrize("query,status,words", BAD_WALKS)
def test_walk_refuses_bad_parameters(server, query, status, words):
    refused(get(server, "/api/walk?run=r&" + query), status, words)


def test_a_newer_walk_from_the_same_page_cancels_the_older(server):
    studio = server.studio
    lines = studio.stream_walk("r", [1, 2], 40, "auto", False, None, [], client="page")
    assert next(lines)["type"] == "start"
    assert next(lines)["type"] == "frame"
    studio.worker.claim("page:walk")  # what a new /api/walk from that page does
    rest = list(lines)
    assert rest[-1] == {"type": "cancelled"} and len(rest) < 40


# -- downloads ------------------------------------------------------------------------------------


def test_export_png_names_the_settings(server):
    a = get(server, "/api/export.png?run=r&seeds=0-5&truncation=0.7&cols=3&label=1")
    assert a.status == 200 and a.headers["Content-Type"] == "image/png"
    name = re.search(r'filename="([^"]+)"', a.headers["Content-Disposition"]).group(1)
    assert name == "r_seeds-0-5_t0.7.png"
    with Image.open(io.BytesIO(a.body)) as im:
        assert im.width == 3 * 34 + 2 and im.height > 2 * 34  # 3x2 cells with labels
    cmd = shlex.split(a.headers["X-Gankit-Command"])
    assert cmd[cmd.index("--grid") + 1] == "3x2" and "--label" in cmd and cmd[-1] == name
    one = get(server, "/api/export.png?run=r&seeds=7")
    with Image.open(io.BytesIO(one.body)) as im:
        assert im.size == (32, 32)
    assert "seeds-7" in one.headers["Content-Disposition"]
    refused(get(server, "/api/export.png?run=r&seeds=1&cols=0"), 400, "cols")
    refused(get(server, "/api/export.png?run=r&seeds=1&client=x"), 400, "unknown parameter")


def test_export_gif(server):
    a = get(server, "/api/export.gif?run=r&seeds=4,5&frames=5&loop=1&fps=10&size=64&method=lerp")
    assert a.status == 200 and a.headers["Content-Type"] == "image/gif"
    name = re.search(r'filename="([^"]+)"', a.headers["Content-Disposition"]).group(1)
    assert name == "r_lerp-5-loop_seeds-4_5_10fps.gif"
    with Image.open(io.BytesIO(a.body)) as im:
        assert im.n_frames == 8 and im.size == (64, 64) and im.info["duration"] == 100
    cmd = shlex.split(a.headers["X-Gankit-Command"])
    assert cmd[cmd.index("--size") + 1] == "64" and "--loop" in cmd and "--gif" in cmd
    refused(get(server, "/api/export.gif?run=r&seeds=4,5&size=4"), 400, "size")
    refused(get(server, "/api/export.gif?run=r&seeds=0-7&frames=60&size=512"), 400, "too large")
    refused(get(server, "/api/export.gif?run=r&seeds=4"), 400, "at least two")


# -- directions -----------------------------------------------------------------------------------


def test_fit_a_direction_and_use_it(server, runs):
    from gankit.latent import fit_direction, load_direction
    from gankit.loading import load_model

    a = post_json(server, "/api/directions", {"run": "r", "name": "tuna",
                                              "positive": [0, 1, 2], "negative": [5, 6]})
    assert a.status == 201, a.body
    data = a.json()
    assert [d["name"] for d in data["directions"]] == ["tuna"]
    row = data["directions"][0]
    assert row["n_positive"] == 3 and row["positive"] == "0-2" and row["range"] > 0
    assert data["command"].startswith("gankit direction fit tuna ")
    # the same computation as `gankit direction fit`
    model, config, *_ = load_model(runs / "r")
    want = fit_direction(model, config, [0, 1, 2], [5, 6])
    assert np.allclose(load_direction(runs / "r", "tuna", model, config), want)
    assert abs(data["norm"] - float(want.norm())) < 1e-3
    assert get(server, "/api/run?run=r").json()["directions"][0]["name"] == "tuna"

    refused(post_json(server, "/api/directions", {"run": "r", "name": "tuna", "positive": [1],
                                                  "negative": [2]}), 409, "exists")
    again = post_json(server, "/api/directions", {"run": "r", "name": "tuna", "positive": [1],
                                                  "negative": [2], "replace": True})
    assert again.status == 201 and "--force" in again.json()["command"]

    # a slider: z + s * d changes the picture; strength 0 is the plain sample
    base = pixels(get(server, "/api/samples?run=r&seeds=8").json()["images"][0])
    moved = get(server, "/api/samples?run=r&seeds=8&directions=tuna:2").json()
    assert not np.array_equal(pixels(moved["images"][0]), base)
    assert "--direction tuna:2" in moved["command"]
    zero = get(server, "/api/samples?run=r&seeds=8&directions=tuna:0").json()
    assert np.array_equal(pixels(zero["images"][0]), base)
    walk = walk_lines(server, "run=r&seeds=1,2&frames=3&directions=tuna:1")
    assert "adds no direction" in walk[0]["command"]


BAD_FITS = [
    ({"name": "../evil", "positive": [1], "negative": [2]}, 400, "direction name"),
    ({"name": "", "positive": [1], "negative": [2]}, 400, "direction name"),
    ({"name": 5, "positive": [1], "negative": [2]}, 400, "direction name"),
    ({"name": "x", "positive": [1, 2], "negative": [2]}, 400, "both positive and negative"),
    ({"name": "x", "positive": [], "negative": [2]}, 400, "non-empty list"),
    ({"name": "x", "positive": [-1], "negative": [2]}, 400, "from 0 to"),
    ({"name": "x", "positive": [2**63], "negative": [2]}, 400, "from 0 to"),
    ({"name": "x", "positive": [1.5], "negative": [2]}, 400, "whole number"),
    ({"name": "x", "positive": [True], "negative": [2]}, 400, "whole number"),
    ({"name": "x", "positive": list(range(1001)), "negative": [2000]}, 400, "at most 1000"),
    ({"name": "x", "positive": "0-5000", "negative": [9999]}, 400, "at most 1000"),
    ({"name": "x", "positive": [1], "negative": [2], "replace": "yes"}, 400, "true or false"),
    ({"name": "x", "positive": [1], "negative": [2], "extra": 1}, 400, "unknown field"),
    ({"name": "x", "positive": [1], "negative": [2], "run": "../r"}, 404, "unknown run"),
    ({"name": "x", "positive": [1], "negative": [2], "run": "cg"}, 400, "translation"),
    ({"name": "x", "positive": [1], "negative": [2], "run": 3}, 400, "run id"),
]


@pytest.mark.parametrize("body,status,words", BAD_FITS)
def test_fit_refuses_bad_bodies(server, runs, body, status, words):
    refused(post_json(server, "/api/directions", {"run": "r", **body}), status, words)
    assert not (runs / "r" / "directions" / "x.safetensors").exists()


def test_fit_refuses_bad_requests(server):
    path = "/api/directions"
    refused(call(server, "POST", path, b"name=x", {"Content-Type": "text/plain"}), 415, "JSON")
    refused(call(server, "POST", path, b"{nope", {"Content-Type": "application/json"}), 400,
            "not valid JSON")
    refused(call(server, "POST", path, b"[1]", {"Content-Type": "application/json"}), 400,
            "JSON object")
    big = json.dumps({"name": "x", "positive": [1] * 30000, "negative": [2]}).encode()
    refused(call(server, "POST", path, big, {"Content-Type": "application/json"}), 413, "limit")
    refused(call(server, "POST", path, None, {"Content-Type": "application/json"}), 411,
            "Content-Length")
    refused(post_json(server, path, {"name": "x", "positive": [1], "negative": [2]},
                      headers={"Origin": "http://evil.example"}), 403, "cross-origin")


# -- translation ----------------------------------------------------------------------------------


def png(size=(40, 30), colour=(200, 40, 40)):
    buf = io.BytesIO()
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    arr[...] = colour
    arr[:, : size[0] // 2, 1] = 180
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_translate_an_upload_there_and_back(server, runs):
    from gankit import load_model
    from gankit.translation import translate_image

    body = png()
    a = call(server, "POST", "/api/translate?run=cg&direction=a2b&client=t", body,
             {"Content-Type": "image/png"})
    assert a.status == 200, a.body[:300]
    data = a.json()
    assert data["direction"] == "a2b" and data["size"] == [43, 32]  # shorter side 32
    inp, out, back = (pixels(data[k]) for k in ("input", "output", "back"))
    assert inp.shape == out.shape == back.shape == (32, 43, 3)
    assert not np.array_equal(inp, out)
    # what `gankit translate` computes for the same prepared image
    model, config, spec, nets, _ = load_model(runs / "cg")
    want = np.asarray(translate_image(model, nets, Image.fromarray(inp.astype(np.uint8)), "a2b",
                                      (43, 32), 4, "cpu")).astype(int)
    assert np.abs(want - out).max() <= 1
    other = call(server, "POST", "/api/translate?run=cg&direction=b2a", body,
                 {"Content-Type": "image/png"}).json()
    assert not np.array_equal(pixels(other["output"]), out)
    assert "--direction b2a" in other["command"]


def test_translate_refuses_bad_uploads(server, tmp_path):
    path = "/api/translate?run=cg"
    refused(call(server, "POST", path, png(), {"Content-Type": "text/plain"}), 415, "upload type")
    refused(call(server, "POST", path, png(), {}), 415, "upload type")
    msg = refused(call(server, "POST", path, b"\x89PNG\r\n\x1a\n garbage",
                       {"Content-Type": "image/png"}), 415, "not a readable")
    assert "/tmp" not in msg and "gankit-studio-" not in msg
    refused(call(server, "POST", path, b"", {"Content-Type": "image/png"}), 400, "empty")
    refused(call(server, "POST", path, b"x", {"Content-Type": "image/png",
                                               "Content-Length": str(11 * 1024 * 1024)}),
            413, "limit")
    refused(call(server, "POST", path, None, {"Content-Type": "image/png"}), 411)
    # a decompression bomb: 8000 x 8000 pixels in a few kB
    buf = io.BytesIO()
    Image.new("L", (8000, 8000)).save(buf, format="PNG")
    refused(call(server, "POST", path, buf.getvalue(), {"Content-Type": "image/png"}), 413,
            "8000x8000")
    # formats Pillow reads but the studio does not name: refused as the error says
    for fmt in ("TIFF", "ICO", "TGA", "PCX"):
        buf = io.BytesIO()
        Image.new("RGB", (16, 16)).save(buf, format=fmt)
        refused(call(server, "POST", path, buf.getvalue(), {"Content-Type": "image/png"}), 415,
                "not a readable PNG, JPEG, WebP, BMP or GIF")
    # a truncated PNG: the header reads, the pixels do not
    cut = png((64, 64))[:-40]
    msg = refused(call(server, "POST", path, cut, {"Content-Type": "image/png"}), 400,
                  "cannot read image")
    assert "the uploaded image" in msg and "/tmp" not in msg
    refused(call(server, "POST", path + "&direction=x2y", png(), {"Content-Type": "image/png"}),
            400, "choose one of")
    refused(call(server, "POST", "/api/translate?run=r", png(), {"Content-Type": "image/png"}),
            400, "not a translation model")
    refused(call(server, "POST", "/api/translate?run=nope", png(), {"Content-Type": "image/png"}),
            404, "unknown run")


# -- the worker, the catalog ------------------------------------------------------------------------


def test_worker_queue_order_errors_and_superseding():
    from gankit.studio.validate import BadRequest
    from gankit.studio.worker import Superseded, Worker

    def until(cond):
        end = time.monotonic() + 10
        while not cond():
            assert time.monotonic() < end, "timed out"
            time.sleep(0.01)

    w = Worker(queue_size=2, timeout=10)
    try:
        assert w.submit(lambda: 41 + 1) == 42
        with pytest.raises(ZeroDivisionError):
            w.submit(lambda: 1 / 0)
        started, gate, results = threading.Event(), threading.Event(), {}

        def blocker():
            started.set()
            gate.wait(10)
            return "done"

        def run(key, fn, *args):
            try:
                results[key] = w.submit(fn, *args)
            except Superseded:
                results[key] = "superseded"

        threads = [threading.Thread(target=run, args=("a", blocker))]
        threads[0].start()
        started.wait(10)  # the worker is busy with the blocker; the queue is empty
        token = w.claim("c")
        threads.append(threading.Thread(target=run, args=("b", lambda: "ran", "c", token)))
        threads[-1].start()
        until(lambda: w.pending() == 1)
        w.claim("c")  # a newer request on channel c: the waiting job will not run
        threads.append(threading.Thread(target=run, args=("c", lambda: "third")))
        threads[-1].start()
        until(lambda: w.pending() == 2)
        with pytest.raises(BadRequest) as exc:  # the queue is full: 503 at once
            w.submit(lambda: "fourth")
        assert exc.value.status == 503
        gate.set()
        for t in threads:
            t.join(10)
        assert results == {"a": "done", "b": "superseded", "c": "third"}
        with pytest.raises(Superseded):  # an old token is refused before it is queued
            w.submit(lambda: "late", "c", token)
    finally:
        w.close()


def test_run_status_from_status_json_and_lock(tmp_path):
    import socket

    from gankit.studio.catalog import run_status

    run = tmp_path / "x"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step-0000050.safetensors").write_bytes(b"")
    (run / "config.json").write_text(json.dumps({"options": {"steps": 100}}))
    assert run_status(run)["status"] == "interrupted"  # 0.1.0 run, stopped early
    (run / "checkpoints" / "step-0000100.safetensors").write_bytes(b"")
    assert run_status(run) == {"status": "completed", "step": 100, "total_steps": 100,
                               "message": None}
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    (run / "run.lock").write_text(json.dumps(lock))
    assert run_status(run)["status"] == "running"  # a live process holds the lock
    (run / "status.json").write_text(json.dumps({"status": "running", "step": 120,
                                                 "total_steps": 200, "started": 1.0,
                                                 "updated": 2.0, "message": None}))
    assert run_status(run)["step"] == 120 and run_status(run)["status"] == "running"
    (run / "run.lock").write_text(json.dumps({**lock, "pid": dead.pid}))
    assert run_status(run)["status"] == "interrupted"  # a stale lock: nobody trains it
    (run / "status.json").write_text(json.dumps({"status": "diverged", "step": 7,
                                                 "total_steps": 200, "message": "NaN"}))
    assert run_status(run)["status"] == "diverged" and run_status(run)["message"] == "NaN"
    (run / "status.json").write_text("{broken")
    assert run_status(run)["status"] == "completed"


def test_catalog_given_run_checkpoint_and_folder_of_runs(runs, tmp_path):
    import shutil

    from gankit.errors import GankitError
    from gankit.studio.catalog import Catalog

    c = Catalog(runs, runs / "cg")
    assert c.default_id == "cg" and [e.id for e in c.entries()].count("cg") == 1
    ckpt = sorted((runs / "r" / "checkpoints").iterdir())[-1]
    c = Catalog(runs, ckpt)
    assert c.get(None).checkpoint == ckpt.resolve() and c.default_id == "r"
    assert [e.id for e in c.entries()].count("r") == 1
    other = tmp_path / "elsewhere" / "r"
    shutil.copytree(runs / "r", other)
    c = Catalog(runs, other)
    assert c.default_id == "r (given)" and {"r", "r (given)"} <= {e.id for e in c.entries()}
    assert Catalog(tmp_path / "none", runs).root == runs  # a folder of runs
    with pytest.raises(GankitError, match="no such run"):
        Catalog(runs, tmp_path / "missing")
    with pytest.raises(GankitError, match="no trained run"):
        Catalog(tmp_path / "empty", None)


# -- the command ------------------------------------------------------------------------------------


def one_error_line(res, code, *words):
    assert res.exit_code == code, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_cli_refusals(run_cli, runs, tmp_path):
    one_error_line(run_cli("studio", runs / "r", "--port", "70000", "--no-browser"), 2,
                   "--port 70000")
    one_error_line(run_cli("studio", runs / "r", "--device", "tpu", "--no-browser"), 2,
                   "--device tpu")
    one_error_line(run_cli("studio", "nowhere", "--no-browser"), 1, "nowhere: no such run")
    one_error_line(run_cli("studio", "--no-browser"), 1, "no trained run")  # no ./runs here
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 64)
    one_error_line(run_cli("studio", tmp_path / "bad.safetensors", "--no-browser"), 1,
                   "bad.safetensors")
    (tmp_path / "notes.txt").write_text("x")
    one_error_line(run_cli("studio", tmp_path / "notes.txt", "--no-browser"), 1,
                   "not a run folder")


def test_cli_prints_the_url_opens_the_browser_and_stops_on_ctrl_c(run_cli, runs, monkeypatch):
    from gankit.studio.server import StudioServer

    seen = {}
    real = StudioServer.serve_forever

    def serve_forever(self, poll_interval=0.5):  # serve one visit, then Ctrl-C
        thread = threading.Thread(target=real, args=(self, 0.05), daemon=True)
        thread.start()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/api/runs")
        seen["runs"] = json.loads(conn.getresponse().read())
        seen["host"] = self.server_address[0]
        self.shutdown()
        thread.join(5)
        raise KeyboardInterrupt

    monkeypatch.setattr(StudioServer, "serve_forever", serve_forever)
    monkeypatch.setattr("webbrowser.open", lambda url: seen.setdefault("opened", url))
    res = run_cli("studio", runs / "cg", "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    url = res.stdout.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url) and seen["opened"] == url
    assert seen["host"] == "127.0.0.1" and seen["runs"]["default"] == "cg"
    assert "cg (cyclegan, step 2)" in res.stderr and "studio stopped" in res.stderr
    seen.clear()
    res = run_cli("studio", runs / "r", "--no-browser", "--host", "0.0.0.0")
    assert res.exit_code == 0 and "opened" not in seen and seen["host"] == "0.0.0.0"
    assert "open to other machines" in res.stderr


def test_static_files_ship_in_the_package():
    from gankit.studio.server import static_files

    assert {"index.html", "studio.js", "gankit-common.js", "studio.css",
            "favicon.svg"} <= set(static_files())
