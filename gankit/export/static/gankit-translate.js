// gankit web export of a translation run: drop an image (or draw, for a run trained on
// edge maps) and see its translation, computed in this browser by onnxruntime-web from
// translator.onnx (images (N, C, H, W) in [0, 1] -> translated, the same layout).
// Plain JavaScript, no build step, nothing loaded from outside this folder.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const MAX_UPLOAD = 10 * 1024 * 1024;   // bytes, as the studio
  const MAX_PIXELS = 40000000;           // pixels of a dropped image, as the studio
  const PAD_DEBOUNCE_MS = 250;

  const state = { run: null, session: null, busy: false, pending: null, count: 0,
                  error: null, ready: false };
  window.gankitTranslate = { state };

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

  // -- translating a canvas ------------------------------------------------------------------
  // One translation at a time; a newer request while one runs replaces any waiting one.
  async function translateCanvas(src) {
    if (state.busy) { state.pending = src; return; }
    state.busy = true;
    try {
      while (src) {
        state.pending = null;
        await runOnce(src);
        src = state.pending;
      }
    } catch (err) {
      status(String(err.message || err), true);
    } finally {
      state.busy = false;
    }
  }

  async function runOnce(src) {
    const S = state.run.image_size, C = state.run.channels, plane = S * S;
    const inp = $("tr-input");
    inp.width = inp.height = S;
    const ictx = inp.getContext("2d");
    ictx.drawImage(src, 0, 0, S, S);
    const px = ictx.getImageData(0, 0, S, S).data;
    const x = new Float32Array(C * plane);
    for (let i = 0; i < plane; i++) {
      if (C === 1) x[i] = (0.299 * px[4 * i] + 0.587 * px[4 * i + 1] + 0.114 * px[4 * i + 2]) / 255;
      else for (let c = 0; c < 3; c++) x[c * plane + i] = px[4 * i + c] / 255;
    }
    const feeds = {};
    feeds[state.run.input] = new ort.Tensor("float32", x, [1, C, S, S]);
    const res = await state.session.run(feeds);
    const y = res[state.run.output].data;
    const out = $("tr-output");
    out.width = out.height = S;
    const octx = out.getContext("2d");
    const img = octx.createImageData(S, S);
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        const v = y[(C === 1 ? 0 : c) * plane + i];
        img.data[4 * i + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      img.data[4 * i + 3] = 255;
    }
    octx.putImageData(img, 0, 0);
    state.count += 1;
    status("translated at " + S + "x" + S + " px (step " + state.run.step + ")");
  }

  // -- a dropped image ----------------------------------------------------------------------------
  function loadFile(file) {
    if (!file || !state.ready) return;
    if (file.size > MAX_UPLOAD) { status(file.name + " is larger than 10 MB", true); return; }
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => {
      URL.revokeObjectURL(url);
      if (img.naturalWidth * img.naturalHeight > MAX_PIXELS) {
        status(file.name + " has " + img.naturalWidth + "x" + img.naturalHeight +
               " pixels; the limit is 40,000,000", true);
        return;
      }
      const S = state.run.image_size, s = Math.min(img.naturalWidth, img.naturalHeight);
      const c = document.createElement("canvas");
      c.width = c.height = S;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, (img.naturalWidth - s) / 2, (img.naturalHeight - s) / 2, s, s, 0, 0, S, S);
      if (state.run.canvas) {  // the image becomes the drawing, to draw over
        const pad = $("pad");
        pad.getContext("2d").drawImage(c, 0, 0, pad.width, pad.height);
        translateCanvas(pad);
      } else {
        translateCanvas(c);
      }
    };
    img.onerror = () => { URL.revokeObjectURL(url); status(file.name + " is not an image this browser reads", true); };
    img.src = url;
  }

  // -- the drawing canvas -------------------------------------------------------------------------
  function resetPad(size) {
    const pad = $("pad");
    pad.width = pad.height = Math.max(32, Math.min(512, size || 256));
    const ctx = pad.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
  }

  function padPoint(e) {
    const pad = $("pad"), r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
  }

  const padChanged = debounce(() => translateCanvas($("pad")), PAD_DEBOUNCE_MS);

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
    padChanged();
  }

  function wirePad() {
    const pad = $("pad");
    let last = null;
    pad.addEventListener("pointerdown", (e) => {
      pad.setPointerCapture(e.pointerId);
      last = padPoint(e);
      padStroke(last, last);
    });
    pad.addEventListener("pointermove", (e) => {
      if (last === null) return;
      const p = padPoint(e);
      padStroke(last, p);
      last = p;
    });
    const end = () => { last = null; };
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    $("pad-clear").addEventListener("click", () => { resetPad(state.run && state.run.image_size); padChanged(); });
  }

  // -- start -----------------------------------------------------------------------------------
  async function start() {
    if (location.protocol === "file:") {
      throw new Error("open this page from a web server (for example `python -m http.server` in " +
                      "this folder), not as a file: browsers do not let a file load WebAssembly");
    }
    if (typeof ort === "undefined") throw new Error("ort/ort.wasm.min.js did not load");
    const res = await fetch("run.json");
    if (!res.ok) throw new Error("run.json: " + res.status + " " + res.statusText);
    state.run = await res.json();
    if (state.run.kind !== "translation") throw new Error("run.json is not a translation run's");
    $("ort-version").textContent = state.run.ort_version;
    $("run-info").textContent = state.run.model + ", step " + state.run.step + ", " +
      state.run.image_size + " px, " + (state.run.data || "") + " (run " + state.run.run + ")";
    $("tr-out-cap").textContent = state.run.domains.a + " \u2192 " + state.run.domains.b;
    $("tr-command").textContent = "gankit translate " + state.run.run_path + " IMAGE --direction " +
      state.run.direction;
    ort.env.wasm.numThreads = 1;  // no SharedArrayBuffer needed: any static host works
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
    status("loading the translator ...");
    state.session = await ort.InferenceSession.create(state.run.model_file, { executionProviders: ["wasm"] });
    $("translate").hidden = false;
    $("sketch").hidden = !state.run.canvas;
    if (state.run.canvas) resetPad(state.run.image_size);
    state.ready = true;
    status(state.run.canvas ? "draw on the canvas, or drop an image, to translate it"
                            : "drop an image to translate it");
  }

  function wire() {
    const drop = $("drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over");
      if (e.dataTransfer.files.length) loadFile(e.dataTransfer.files[0]);
    });
    $("file").addEventListener("change", (e) => { if (e.target.files.length) loadFile(e.target.files[0]); });
    wirePad();
  }

  document.addEventListener("DOMContentLoaded", () => {
    wire();
    start().catch((err) => status(String(err.message || err), true));
  });
})();
