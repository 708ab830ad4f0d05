// gankit web export: the studio's slider page running entirely in the browser.
// The generator is generator.onnx, run by onnxruntime-web (ort/); z of each seed comes
// precomputed from gankit (latents.bin), so seed 42 here is seed 42 of `gankit sample`.
// Plain JavaScript, no build step, nothing loaded from outside this folder.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const MAX_PINS = 8;
  const BATCH = 16;

  const state = {
    run: null, directions: [], latents: null, seedIndex: new Map(), session: null,
    seeds: [], images: {}, pinned: [], command: "", walkCommand: "",
    gridSeq: 0, walkSeq: 0, frames: [], walkDone: false, frameIndex: 0, timer: null,
    queue: Promise.resolve(), wanted: 0, error: null, ready: false,
  };
  window.gankitWeb = { state };

  function status(text, isError) {
    const el = $("status");
    el.textContent = text || "";
    el.classList.toggle("error", !!isError);
    if (isError) state.error = text;
  }

  function debounce(fn, ms) {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  }

  async function copy(text) {
    if (!text) return;
    try { await navigator.clipboard.writeText(text); } catch (e) {
      const ta = document.createElement("textarea");
      ta.value = text; document.body.appendChild(ta); ta.select();
      document.execCommand("copy"); ta.remove();
    }
    status("copied: " + text);
  }

  function compact(seeds) {
    const out = [];
    for (let i = 0; i < seeds.length;) {
      let j = i;
      while (j + 1 < seeds.length && seeds[j + 1] === seeds[j] + 1) j++;
      out.push(j - i >= 2 ? seeds[i] + "-" + seeds[j] : seeds.slice(i, j + 1).join(","));
      i = j + 1;
    }
    return out.join(",");
  }

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
    const c = state.run.channels, h = state.run.image_size, w = h, hw = h * w;
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(w, h);
    for (let p = 0; p < hw; p++) {
      for (let k = 0; k < 3; k++) {
        const v = chw[(c === 1 ? 0 : k) * hw + p];
        img.data[4 * p + k] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return canvas.toDataURL("image/png");
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
  function parseSeeds(text) {
    const seeds = [];
    for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
      const m = part.match(/^(\d+)(?:\s*-\s*(\d+))?$/);
      if (!m) throw new Error("seeds: use numbers and ranges like 0-15 or 3,17,42");
      const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
      if (b < a || b - a > 63) throw new Error("seeds: at most 64, low to high");
      for (let s = a; s <= b; s++) seeds.push(s);
    }
    if (!seeds.length || seeds.length > 64) throw new Error("seeds: give 1 to 64 seeds");
    const missing = seeds.filter((s) => !state.seedIndex.has(s));
    if (missing.length) {
      throw new Error("seed " + missing[0] + " was not exported: this page has z for seeds " +
        compact(state.run.seeds) + " (gankit export --web-seeds)");
    }
    return seeds;
  }

  async function refreshGrid() {
    let seeds;
    try { seeds = parseSeeds($("seeds").value); } catch (err) { status(err.message, true); return; }
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
      renderGrid();
      state.gridSeq += 1;
      status(seeds.length + " samples, step " + state.run.step);
    } catch (err) { status(String(err.message || err), true); }
  }

  function renderGrid() {
    const grid = $("grid");
    const small = state.run.image_size < 64;
    grid.textContent = "";
    for (const s of state.seeds) {
      const fig = document.createElement("figure");
      fig.className = "cell";
      fig.dataset.seed = s;
      const img = document.createElement("img");
      img.src = state.images[s];
      img.alt = "seed " + s;
      if (small) img.classList.add("pixelated");
      const cap = document.createElement("figcaption");
      cap.textContent = s;
      const badge = document.createElement("span");
      badge.className = "badge";
      fig.append(img, cap, badge);
      fig.addEventListener("click", () => pin(s));
      grid.appendChild(fig);
    }
    updateMarks();
  }

  function updateMarks() {
    document.querySelectorAll(".cell").forEach((fig) => {
      const i = state.pinned.indexOf(Number(fig.dataset.seed));
      fig.classList.toggle("pinned", i >= 0);
      fig.querySelector(".badge").textContent = i >= 0 ? String.fromCharCode(65 + i) : "";
    });
  }

  function pin(seed) {
    const i = state.pinned.indexOf(seed);
    if (i >= 0) state.pinned.splice(i, 1);
    else {
      if (state.pinned.length >= MAX_PINS) state.pinned.shift();
      state.pinned.push(seed);
    }
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

  function play() {
    clearInterval(state.timer);
    state.timer = setInterval(() => {
      if (!state.frames.length) return;
      state.frameIndex = (state.frameIndex + 1) % state.frames.length;
      if (state.frames[state.frameIndex]) $("anim-img").src = state.frames[state.frameIndex];
    }, 1000 / Number($("fps").value));
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
    play();
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

  const changed = debounce(() => {
    refreshGrid();
    if (state.pinned.length >= 2) startWalk();
  }, 60);

  // -- sliders --------------------------------------------------------------------------------
  function buildSliders() {
    const box = $("dir-sliders");
    box.textContent = "";
    for (const d of state.directions) {
      const row = document.createElement("div");
      row.className = "slider";
      const label = document.createElement("label");
      label.textContent = d.name;
      label.title = d.name + ": +" + d.n_positive + " / -" + d.n_negative + " seeds, |d| = " +
        d.norm + " (double-click the slider to reset)";
      const input = document.createElement("input");
      input.type = "range";
      input.dataset.name = d.name;
      input.min = -d.range; input.max = d.range; input.step = d.range / 50; input.value = 0;
      input.setAttribute("aria-label", d.name);
      label.htmlFor = input.id = "dir-" + d.name;
      const out = document.createElement("output");
      out.textContent = "0.00";
      input.addEventListener("input", () => { out.textContent = Number(input.value).toFixed(2); changed(); });
      input.addEventListener("dblclick", () => { input.value = 0; out.textContent = "0.00"; changed(); });
      row.append(label, input, out);
      box.appendChild(row);
    }
    $("no-dirs").hidden = state.directions.length > 0;
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
    const a = document.createElement("a");
    a.href = c.toDataURL("image/png");
    a.download = state.run.run + "_seeds-" + compact(seeds).replace(/,/g, "_") + ".png";
    document.body.appendChild(a); a.click(); a.remove();
  }

  // -- start -----------------------------------------------------------------------------------
  async function fetchOk(name) {
    const res = await fetch(name);
    if (!res.ok) throw new Error(name + ": " + res.status + " " + res.statusText);
    return res;
  }

  async function start() {
    if (location.protocol === "file:") {
      throw new Error("open this page from a web server (for example `python -m http.server` in " +
                      "this folder), not as a file: browsers do not let a file load WebAssembly");
    }
    if (typeof ort === "undefined") throw new Error("ort/ort.wasm.min.js did not load");
    state.run = await (await fetchOk("run.json")).json();
    state.directions = await (await fetchOk("directions.json")).json();
    const buf = await (await fetchOk(state.run.latents)).arrayBuffer();
    state.latents = new Float32Array(buf);
    state.run.seeds.forEach((s, i) => state.seedIndex.set(s, i));
    $("ort-version").textContent = state.run.ort_version;
    $("seed-range").textContent = "seeds " + compact(state.run.seeds);
    $("run-info").textContent = state.run.model + ", step " + state.run.step + ", " +
      state.run.image_size + " px, " + (state.run.data || "") + " (run " + state.run.run + ")";
    ort.env.wasm.numThreads = 1;  // no SharedArrayBuffer needed: any static host works
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
    status("loading the generator ...");
    state.session = await ort.InferenceSession.create(state.run.model_file, { executionProviders: ["wasm"] });
    buildSliders();
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
    $("shuffle").addEventListener("click", shuffle);
    $("show").addEventListener("click", refreshGrid);
    $("seeds").addEventListener("keydown", (e) => { if (e.key === "Enter") refreshGrid(); });
    $("count").addEventListener("change", shuffle);
    document.addEventListener("keydown", (e) => {
      if (e.key === "s" && e.target.tagName !== "INPUT" && state.ready) shuffle();
    });
    $("class").addEventListener("change", () => changed());
    $("trunc").addEventListener("input", () => {
      const t = truncation();
      $("trunc-out").textContent = t === null ? "full" : t.toFixed(2);
      changed();
    });
    $("reset").addEventListener("click", () => {
      $("trunc").value = $("trunc").max; $("trunc-out").textContent = "full";
      document.querySelectorAll("#dir-sliders input[type=range]").forEach((el) => {
        el.value = 0; el.nextSibling.textContent = "0.00";
      });
      changed();
    });
    $("frames").addEventListener("input", () => { $("frames-out").textContent = $("frames").value; });
    $("frames").addEventListener("change", () => { if (state.pinned.length >= 2) startWalk(); });
    $("method").addEventListener("change", () => { if (state.pinned.length >= 2) startWalk(); });
    $("loop").addEventListener("change", () => { if (state.pinned.length >= 2) startWalk(); });
    $("fps").addEventListener("input", () => { $("fps-out").textContent = $("fps").value; if (state.timer) play(); });
    $("anim-stop").addEventListener("click", () => {
      if (state.timer) { clearInterval(state.timer); state.timer = null; $("anim-stop").textContent = "Play"; }
      else { $("anim-stop").textContent = "Stop"; if (state.walkDone) play(); else startWalk(); }
    });
    $("unpin").addEventListener("click", () => { state.pinned = []; updateMarks(); stopWalk(true); });
    $("save-png").addEventListener("click", savePng);
    $("copy").addEventListener("click", () => copy(state.command));
    $("copy-walk").addEventListener("click", () => copy(state.walkCommand));
  }

  document.addEventListener("DOMContentLoaded", () => {
    wire();
    start().catch((err) => status(String(err.message || err), true));
  });
})();
