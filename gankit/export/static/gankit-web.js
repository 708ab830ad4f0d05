// gankit web export: the studio's slider page running entirely in the browser.
// The generator is generator.onnx, run by onnxruntime-web (ort/); z of each seed comes
// precomputed from gankit (latents.bin), so seed 42 here is seed 42 of `gankit sample`.
// Plain JavaScript, no build step, nothing loaded from outside this folder. What it
// shares with the studio's page is in gankit-common.js, loaded before it.
"use strict";

(function () {
  const G = window.gankitCommon;
  const $ = G.$, status = G.status, compact = G.compact;
  const BATCH = 16;

  const state = {
    run: null, directions: [], latents: null, seedIndex: new Map(), session: null,
    seeds: [], images: {}, pinned: [], command: "", walkCommand: "",
    gridSeq: 0, walkSeq: 0, frames: [], walkDone: false, frameIndex: 0, timer: null,
    queue: Promise.resolve(), wanted: 0, ready: false,
    get error() { return G.error; },  // the last error the status line showed
  };
  window.gankitWeb = { state };

  function quote(s) { return /^[\w@%+=:,./-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\"'\"'") + "'"; }

  // -- latent codes ------------------------------------------------------------------------
  function truncationLevel() {  // 0 = none, i = run.truncations[i - 1]
    if (!state.run.truncations.length) return 0;
    const v = Number($("trunc").value);
    return v >= state.run.truncations.length ? 0 : v + 1;
  }

  function truncation() {
    const l = truncationLevel();
    return l ? state.run.truncations[l - 1] : null;
  }

  function strengths() {
    const out = [];
    document.querySelectorAll("#dir-sliders input[type=range]").forEach((el) => {
      const v = Number(el.value);
      if (v !== 0) out.push([el.dataset.name, v]);
    });
    return out;
  }

  function baseZ(seed) {  // z of a seed at the current truncation, as gankit draws it
    const d = state.run.z_dim, n = state.run.seeds.length;
    const i = state.seedIndex.get(seed);
    const off = (truncationLevel() * n + i) * d;
    return Float64Array.from(state.latents.subarray(off, off + d));
  }

  function offset(z) {  // z + sum(strength * direction)
    for (const [name, s] of strengths()) {
      const dir = state.directions.find((x) => x.name === name);
      for (let k = 0; k < z.length; k++) z[k] += s * dir.vector[k];
    }
    return z;
  }

  function norm(v) { let s = 0; for (const x of v) s += x * x; return Math.sqrt(s); }

  function lerp(a, b, t) { return a.map((x, k) => x + t * (b[k] - x)); }

  function slerp(a, b, t) {  // gankit.latent.slerp: the direction on the great circle, the norm linearly
    if (t === 0) return a.slice();
    if (t === 1) return b.slice();
    const eps = 1e-7, na = norm(a), nb = norm(b);
    const ua = a.map((x) => x / Math.max(na, eps)), ub = b.map((x) => x / Math.max(nb, eps));
    let cos = 0; for (let k = 0; k < a.length; k++) cos += ua[k] * ub[k];
    const omega = Math.acos(Math.min(1, Math.max(-1, cos))), so = Math.sin(omega);
    const parallel = Math.abs(so) < 1e-4;
    const wa = parallel ? 1 - t : Math.sin((1 - t) * omega) / so;
    const wb = parallel ? t : Math.sin(t * omega) / so;
    const dir = ua.map((x, k) => wa * x + wb * ub[k]);
    const nd = Math.max(norm(dir), eps), len = na + (nb - na) * t;
    return dir.map((x) => x / nd * len);
  }

  function chain(points, steps, method, loop) {  // gankit.latent.chain
    const fn = method === "lerp" ? lerp : slerp;
    const ends = points.map((_, i) => i).concat(loop ? [0] : []);
    const rows = [];
    for (let i = 0; i + 1 < ends.length; i++) {
      for (let j = i === 0 ? 0 : 1; j < steps; j++) {
        rows.push(fn(points[ends[i]], points[ends[i + 1]], j / (steps - 1)));
      }
    }
    if (loop) rows.pop();
    return rows;
  }

  // -- the generator -------------------------------------------------------------------------
  function pickedClass() {  // class-conditional runs: the picked class index, or -1 (in turn)
    const el = $("class");
    return state.run.labels && el && el.value !== "" ? Number(el.value) : -1;
  }

  function run(zs, classes) {  // one inference at a time: onnxruntime-web runs a session serially
    const job = state.queue.then(async () => {
      const d = state.run.z_dim, out = [];
      for (let i = 0; i < zs.length; i += BATCH) {
        const part = zs.slice(i, i + BATCH);
        const flat = new Float32Array(part.length * d);
        part.forEach((z, r) => flat.set(z, r * d));
        const feeds = {}; feeds[state.run.input] = new ort.Tensor("float32", flat, [part.length, d]);
        if (state.run.labels) {  // the class of each z (sample i of class i mod K by default)
          const k = state.run.classes.length;
          const ys = BigInt64Array.from(part, (_, r) => BigInt(classes ? classes[i + r] : (i + r) % k));
          feeds[state.run.labels] = new ort.Tensor("int64", ys, [part.length]);
        }
        const res = await state.session.run(feeds);
        const t = res[state.run.output];
        const size = t.dims[1] * t.dims[2] * t.dims[3];
        for (let r = 0; r < part.length; r++) out.push(toDataURL(t.data.subarray(r * size, (r + 1) * size)));
      }
      return out;
    });
    state.queue = job.catch(() => {});
    return job;
  }

  const canvas = document.createElement("canvas");

  function toDataURL(chw) {  // float (C, H, W) in [0, 1] -> a PNG data URL
    return G.drawCHW(canvas, chw, state.run.channels, state.run.image_size).toDataURL("image/png");
  }

  // -- commands a user can run for the same pictures ------------------------------------------
  function sampleCommand(seeds) {
    const parts = ["gankit", "sample", quote(state.run.run_path), "--seeds", compact(seeds)];
    const t = truncation();
    if (t !== null) parts.push("--truncation", String(t));
    for (const [n, s] of strengths()) parts.push("--direction", n + ":" + s);
    if (pickedClass() >= 0) parts.push("--class", quote(state.run.classes[pickedClass()]));
    parts.push("--out", "samples.png");
    return parts.join(" ");
  }

  function walkCommand(seeds, frames, method, loop) {
    const parts = ["gankit", "interpolate", quote(state.run.run_path)];
    if (seeds.length === 2) parts.push("--seed-a", seeds[0], "--seed-b", seeds[1]);
    else parts.push("--seeds", seeds.join(","));
    parts.push("--steps", frames, "--method", method);
    if (state.run.labels) parts.push("--class-a", quote(state.run.classes[Math.max(0, pickedClass())]));
    if (loop) parts.push("--loop");
    parts.push("--gif", "--fps", $("fps").value);
    const t = truncation();
    if (t !== null) parts.push("--truncation", String(t));
    let cmd = parts.join(" ");
    const dirs = strengths();
    if (dirs.length) cmd += "  # gankit interpolate adds no direction to a walk between seeds; " +
      "this page added " + dirs.map(([n, s]) => n + ":" + s).join(", ");
    return cmd;
  }

  // -- the page ------------------------------------------------------------------------------
  function exportedSeeds(text) {  // only the exported seeds: their z is in latents.bin
    const seeds = G.parseSeeds(text, false);
    const missing = seeds.filter((s) => !state.seedIndex.has(s));
    if (missing.length) {
      throw new Error("seed " + missing[0] + " was not exported: this page has z for seeds " +
        compact(state.run.seeds) + " (gankit export --web-seeds)");
    }
    return seeds;
  }

  async function refreshGrid() {
    let seeds;
    try { seeds = exportedSeeds($("seeds").value); } catch (err) { status(err.message, true); return; }
    const ticket = ++state.wanted;
    const zs = seeds.map((s) => offset(baseZ(s)));
    try {
      const c = pickedClass(), k = (state.run.classes || []).length;
      const urls = await run(zs, k ? seeds.map((_, i) => (c >= 0 ? c : i % k)) : null);
      if (ticket !== state.wanted) return;  // a newer grid was asked for meanwhile
      state.seeds = seeds;
      state.images = {};
      seeds.forEach((s, i) => { state.images[s] = urls[i]; });
      state.command = sampleCommand(seeds);
      $("command").textContent = state.command;
      G.renderGrid(state.seeds, state.images, state.run.image_size < 64, pin);
      updateMarks();
      state.gridSeq += 1;
      status(seeds.length + " samples, step " + state.run.step);
    } catch (err) { status(String(err.message || err), true); }
  }

  function updateMarks() {
    document.querySelectorAll(".cell").forEach((fig) => {
      const i = state.pinned.indexOf(Number(fig.dataset.seed));
      fig.classList.toggle("pinned", i >= 0);
      fig.querySelector(".badge").textContent = i >= 0 ? String.fromCharCode(65 + i) : "";
    });
  }

  function pin(seed) {
    G.togglePin(state.pinned, seed);
    updateMarks();
    if (state.pinned.length >= 2) startWalk(); else stopWalk(true);
  }

  function shuffle() {
    const n = Math.min(Number($("count").value), state.run.seeds.length);
    const pool = state.run.seeds.slice();
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    $("seeds").value = compact(pool.slice(0, n).sort((a, b) => a - b));
    state.pinned = [];
    stopWalk(true);
    refreshGrid();
  }

  // -- interpolation -------------------------------------------------------------------------
  function stopWalk(hide) {
    state.walkSeq += 1;
    clearInterval(state.timer);
    state.timer = null;
    if (hide) $("anim").hidden = true;
  }

  async function startWalk() {
    stopWalk(false);
    const seq = state.walkSeq;
    const seeds = state.pinned.slice();
    const steps = Number($("frames").value), loop = $("loop").checked;
    const method = $("method").value === "auto" ? state.run.default_method : $("method").value;
    const zs = chain(seeds.map(baseZ), steps, method, loop).map(offset);
    state.frames = []; state.frameIndex = 0; state.walkDone = false;
    $("anim").hidden = false;
    $("anim-seeds").textContent = "seeds " + seeds.join(" \u2192 ");
    $("anim-img").classList.toggle("pixelated", state.run.image_size < 64);
    const prog = $("anim-progress");
    prog.max = zs.length; prog.value = 0;
    state.walkCommand = walkCommand(seeds, steps, method, loop);
    $("walk-command").textContent = state.walkCommand;
    G.play(state);
    for (let i = 0; i < zs.length; i += 8) {
      const part = zs.slice(i, i + 8);  // a walk keeps one class: the picked one, else the first
      const urls = await run(part, part.map(() => Math.max(0, pickedClass())));
      if (seq !== state.walkSeq) return;
      urls.forEach((u, k) => { state.frames[i + k] = u; });
      if (i === 0) $("anim-img").src = urls[0];
      prog.value = Math.min(zs.length, i + 8);
    }
    state.walkDone = true;
    status(zs.length + " frames, " + method + " through seeds " + seeds.join(", "));
  }

  const changed = G.debounce(() => {
    refreshGrid();
    if (state.pinned.length >= 2) startWalk();
  }, 60);

  // -- sliders --------------------------------------------------------------------------------
  function buildControls() {  // a slider per direction, the truncation levels
    G.buildSliders(state.directions, changed);
    const levels = state.run.truncations.length;
    $("trunc-row").hidden = levels === 0;
    $("trunc").max = levels; $("trunc").value = levels;
  }

  function savePng() {  // the grid as gankit lays it out: 2 px black padding
    const seeds = state.seeds;
    if (!seeds.length) return;
    const s = state.run.image_size, pad = 2, cols = Math.min(8, seeds.length);
    const rows = Math.ceil(seeds.length / cols);
    const c = document.createElement("canvas");
    c.width = cols * (s + pad) + pad; c.height = rows * (s + pad) + pad;
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, c.width, c.height);
    const imgs = document.querySelectorAll("#grid .cell img");
    imgs.forEach((img, i) => ctx.drawImage(img, pad + (i % cols) * (s + pad), pad + Math.floor(i / cols) * (s + pad)));
    G.download(c.toDataURL("image/png"),
               state.run.run + "_seeds-" + compact(seeds).replace(/,/g, "_") + ".png");
  }

  // -- start -----------------------------------------------------------------------------------
  async function start() {
    state.run = await G.exportedRun();
    state.directions = await (await G.fetchOk("directions.json")).json();
    const buf = await (await G.fetchOk(state.run.latents)).arrayBuffer();
    state.latents = new Float32Array(buf);
    state.run.seeds.forEach((s, i) => state.seedIndex.set(s, i));
    G.showRun(state.run);
    $("seed-range").textContent = "seeds " + compact(state.run.seeds);
    state.session = await G.ortSession(state.run, "generator");
    buildControls();
    const classes = state.run.labels ? state.run.classes || [] : [];
    $("class-row").hidden = !classes.length;
    classes.forEach((name, i) => {
      const o = document.createElement("option");
      o.value = String(i); o.textContent = name;
      $("class").appendChild(o);
    });
    $("latent").hidden = false;
    state.ready = true;
    await refreshGrid();
  }

  function wire() {
    G.wireLatentPage(state, {
      shuffle, truncation, changed, startWalk, stopWalk, updateMarks, savePng,
      show: refreshGrid,
      active: () => state.ready,
      pause: () => { clearInterval(state.timer); state.timer = null; },
    });
    $("class").addEventListener("change", () => changed());
  }

  G.startExported(wire, start);
})();
