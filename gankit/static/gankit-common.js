// gankit: what the studio's page and the exported pages share. A classic script (no
// modules: an exported folder must work from any static host) that defines one global,
// gankitCommon, and is loaded before each page's own script (studio.js, gankit-web.js,
// gankit-translate.js). Plain JavaScript, no build step, nothing loaded from outside.
"use strict";

window.gankitCommon = (function () {
  const $ = (id) => document.getElementById(id);
  const MAX_PINS = 8;                   // pinned tiles of an interpolation
  const MAX_UPLOAD = 10 * 1024 * 1024;  // bytes of a dropped picture, as the studio's server
  const PAD_DEBOUNCE_MS = 250;          // the drawing pad's pause before it is translated
  const common = { $, error: null };    // error: the last error the status line showed

  // -- small helpers ---------------------------------------------------------------------
  function status(text, isError) {
    const el = $("status");
    el.textContent = text || "";
    el.classList.toggle("error", !!isError);
    if (isError) common.error = text;
  }

  function debounce(fn, ms) {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  }

  async function copy(text) {
    if (!text) return;
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {  // no clipboard API (plain http on another host): the old way
      const ta = document.createElement("textarea");
      ta.value = text; document.body.appendChild(ta); ta.select();
      document.execCommand("copy"); ta.remove();
    }
    status("copied: " + text);
  }

  function download(href, name) {  // name "": the server's (Content-Disposition)
    const a = document.createElement("a");
    a.href = href;
    a.download = name || "";
    document.body.appendChild(a); a.click(); a.remove();
  }

  function tooLarge(file) {  // said on the status line
    if (file.size <= MAX_UPLOAD) return false;
    status(file.name + " is larger than 10 MB", true);
    return true;
  }

  // -- seeds -------------------------------------------------------------------------------
  function compact(seeds) {  // [0, 1, 2, 5] -> "0-2,5" (a projected tile's id stays as it is)
    const out = [];
    for (let i = 0; i < seeds.length;) {
      let j = i;
      while (j + 1 < seeds.length && typeof seeds[j] === "number" && seeds[j + 1] === seeds[j] + 1) j++;
      out.push(j - i >= 2 ? seeds[i] + "-" + seeds[j] : seeds.slice(i, j + 1).join(","));
      i = j + 1;
    }
    return out.join(",");
  }

  function parseSeeds(text, projected) {  // projected: the studio's tiles p1, p2, ... too
    const seeds = [];
    for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
      if (projected && /^p[1-9]\d*$/.test(part)) { seeds.push(part); continue; }
      const m = part.match(/^(\d+)(?:\s*-\s*(\d+))?$/);
      if (!m) throw new Error("seeds: use numbers and ranges like 0-15 or 3,17,42");
      const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
      if (b < a || b - a > 63 || !Number.isSafeInteger(b)) throw new Error("seeds: at most 64, low to high");
      for (let s = a; s <= b; s++) seeds.push(s);
    }
    if (!seeds.length || seeds.length > 64) throw new Error("seeds: give 1 to 64 seeds");
    return seeds;
  }

  function addPin(pinned, seed) {  // the oldest pin goes when there are too many
    if (pinned.length >= MAX_PINS) pinned.shift();
    pinned.push(seed);
  }

  function togglePin(pinned, seed) {
    const i = pinned.indexOf(seed);
    if (i >= 0) pinned.splice(i, 1); else addPin(pinned, seed);
  }

  // -- the grid and the sliders ------------------------------------------------------------
  function renderGrid(seeds, images, small, onClick) {  // the page then marks the cells
    const grid = $("grid");
    grid.textContent = "";
    for (const s of seeds) {
      const fig = document.createElement("figure");
      fig.className = "cell";
      fig.dataset.seed = s;
      const img = document.createElement("img");
      img.src = images[s];
      img.alt = "seed " + s;
      if (small) img.classList.add("pixelated");
      const cap = document.createElement("figcaption");
      cap.textContent = s;
      const badge = document.createElement("span");
      badge.className = "badge";
      fig.append(img, cap, badge);
      fig.addEventListener("click", () => onClick(s));
      grid.appendChild(fig);
    }
  }

  function sliderRow(d, old, changed) {
    const row = document.createElement("div");
    row.className = "slider";
    if (d.error) {  // a direction file the studio could not read
      row.classList.add("broken");
      row.textContent = d.name + ": " + d.error;
      return row;
    }
    const label = document.createElement("label");
    label.textContent = d.name;
    label.title = d.name + ": +" + d.n_positive + " / -" + d.n_negative + " seeds, |d| = " +
      d.norm + " (double-click the slider to reset)";
    const input = document.createElement("input");
    input.type = "range";
    input.dataset.name = d.name;
    input.min = -d.range; input.max = d.range; input.step = d.range / 50;
    input.value = old !== undefined ? old : 0;
    input.setAttribute("aria-label", d.name);
    label.htmlFor = input.id = "dir-" + d.name;
    const out = document.createElement("output");
    out.textContent = Number(input.value).toFixed(2);
    input.addEventListener("input", () => { out.textContent = Number(input.value).toFixed(2); changed(); });
    input.addEventListener("dblclick", () => { input.value = 0; out.textContent = "0.00"; changed(); });
    row.append(label, input, out);
    return row;
  }

  function buildSliders(dirs, changed) {  // one slider per direction, keeping their values
    const box = $("dir-sliders");
    const old = {};
    box.querySelectorAll("input[type=range]").forEach((el) => { old[el.dataset.name] = el.value; });
    box.textContent = "";
    for (const d of dirs) box.appendChild(sliderRow(d, old[d.name], changed));
    $("no-dirs").hidden = dirs.length > 0;
  }

  // -- the interpolation -------------------------------------------------------------------
  function play(state) {  // shows state.frames in turn at the speed of the fps slider
    clearInterval(state.timer);
    const fps = Number($("fps").value);
    state.timer = setInterval(() => {
      if (!state.frames.length) return;
      state.frameIndex = (state.frameIndex + 1) % state.frames.length;
      if (state.frames[state.frameIndex]) $("anim-img").src = state.frames[state.frameIndex];
    }, 1000 / fps);
  }

  // The controls both latent pages have, wired to the page's own functions (on): shuffle,
  // show, active (whether the key s may shuffle), truncation, changed, startWalk, pause,
  // stopWalk, updateMarks, savePng.
  function wireLatentPage(state, on) {
    $("shuffle").addEventListener("click", on.shuffle);
    $("show").addEventListener("click", on.show);
    $("seeds").addEventListener("keydown", (e) => { if (e.key === "Enter") $("show").click(); });
    $("count").addEventListener("change", on.shuffle);
    document.addEventListener("keydown", (e) => {
      if (e.key === "s" && e.target.tagName !== "INPUT" && on.active()) on.shuffle();
    });
    $("trunc").addEventListener("input", () => {
      const t = on.truncation();
      $("trunc-out").textContent = t === null ? "full" : t.toFixed(2);
      on.changed();
    });
    $("reset").addEventListener("click", () => {
      $("trunc").value = $("trunc").max; $("trunc-out").textContent = "full";
      document.querySelectorAll("#dir-sliders input[type=range]").forEach((el) => {
        el.value = 0; el.nextSibling.textContent = "0.00";
      });
      on.changed();
    });
    const rewalk = () => { if (state.pinned.length >= 2) on.startWalk(); };
    $("frames").addEventListener("input", () => { $("frames-out").textContent = $("frames").value; });
    for (const id of ["frames", "method", "loop"]) $(id).addEventListener("change", rewalk);
    $("fps").addEventListener("input", () => {
      $("fps-out").textContent = $("fps").value;
      if (state.timer) play(state);
    });
    $("anim-stop").addEventListener("click", () => {
      if (state.timer) { on.pause(); $("anim-stop").textContent = "Play"; }
      else { $("anim-stop").textContent = "Stop"; if (state.walkDone) play(state); else on.startWalk(); }
    });
    $("unpin").addEventListener("click", () => { state.pinned = []; on.updateMarks(); on.stopWalk(true); });
    $("save-png").addEventListener("click", on.savePng);
    $("copy").addEventListener("click", () => copy(state.command));
    $("copy-walk").addEventListener("click", () => copy(state.walkCommand));
  }

  // -- dropped pictures and the drawing pad (translation runs) -----------------------------
  function wireDrop(dropId, fileId, onFile) {  // a drop zone and its "pick one" file input
    const drop = $(dropId);
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over");
      if (e.dataTransfer.files.length) onFile(e.dataTransfer.files[0]);
    });
    $(fileId).addEventListener("change", (e) => { if (e.target.files.length) onFile(e.target.files[0]); });
  }

  // Black strokes on white at the model's size (runs trained on edge maps); each change
  // sends the drawing, debounced.
  function resetPad(size) {
    const pad = $("pad");
    pad.width = pad.height = Math.max(32, Math.min(512, size || 256));
    const ctx = pad.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
  }

  function padPoint(e) {  // the pointer in canvas pixels (the canvas is shown scaled)
    const pad = $("pad"), r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
  }

  function padStroke(from, to) {
    const pad = $("pad"), ctx = pad.getContext("2d");
    const erase = $("pad-erase").checked;
    ctx.strokeStyle = erase ? "#fff" : "#000";
    // at least 1.5 canvas pixels: the edge maps the run learnt from have 1-pixel lines
    ctx.lineWidth = Math.max(1.5, Number($("pad-width").value) * (erase ? 4 : 1) * pad.width / 256);
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  }

  function wirePad(send, size) {  // send(): translate the drawing; size(): the model's size
    const pad = $("pad");
    const changed = debounce(send, PAD_DEBOUNCE_MS);
    let last = null;
    pad.addEventListener("pointerdown", (e) => {
      pad.setPointerCapture(e.pointerId);
      last = padPoint(e);
      padStroke(last, last);
      changed();
    });
    pad.addEventListener("pointermove", (e) => {
      if (last === null) return;
      const p = padPoint(e);
      padStroke(last, p);
      changed();
      last = p;
    });
    const end = () => { last = null; };
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    $("pad-clear").addEventListener("click", () => { resetPad(size()); changed(); });
  }

  // -- the exported pages: run.json and onnxruntime-web ------------------------------------
  async function fetchOk(name) {
    const res = await fetch(name);
    if (!res.ok) throw new Error(name + ": " + res.status + " " + res.statusText);
    return res;
  }

  async function exportedRun() {  // the folder's run.json, once the page can run at all
    if (location.protocol === "file:") {
      throw new Error("open this page from a web server (for example `python -m http.server` in " +
                      "this folder), not as a file: browsers do not let a file load WebAssembly");
    }
    if (typeof ort === "undefined") throw new Error("ort/ort.wasm.min.js did not load");
    return (await fetchOk("run.json")).json();
  }

  function showRun(run) {
    $("ort-version").textContent = run.ort_version;
    $("run-info").textContent = run.model + ", step " + run.step + ", " +
      run.image_size + " px, " + (run.data || "") + " (run " + run.run + ")";
  }

  function ortSession(run, what) {  // what: "generator" or "translator", for the status line
    ort.env.wasm.numThreads = 1;  // no SharedArrayBuffer needed: any static host works
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
    status("loading the " + what + " ...");
    return ort.InferenceSession.create(run.model_file, { executionProviders: ["wasm"] });
  }

  function drawCHW(canvas, chw, channels, size) {  // float (C, size, size) in [0, 1] -> canvas
    const hw = size * size;
    canvas.width = canvas.height = size;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(size, size);
    for (let p = 0; p < hw; p++) {
      for (let k = 0; k < 3; k++) {
        const v = chw[(channels === 1 ? 0 : k) * hw + p];
        img.data[4 * p + k] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return canvas;
  }

  function startExported(wire, start) {  // an exported page's start, its failure on the status line
    document.addEventListener("DOMContentLoaded", () => {
      wire();
      start().catch((err) => status(String(err.message || err), true));
    });
  }

  return Object.assign(common, {
    status, debounce, copy, download, tooLarge, compact, parseSeeds, addPin, togglePin,
    renderGrid, buildSliders, play, wireLatentPage, wireDrop, resetPad, wirePad,
    fetchOk, exportedRun, showRun, ortSession, drawCHW, startExported,
  });
})();
