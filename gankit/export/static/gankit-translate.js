// gankit web export of a translation run: drop an image (or draw, for a run trained on
// edge maps) and see its translation, computed in this browser by onnxruntime-web from
// translator.onnx (images (N, C, H, W) in [0, 1] -> translated, the same layout).
// Plain JavaScript, no build step, nothing loaded from outside this folder. What it
// shares with the studio's page is in gankit-common.js, loaded before it.
"use strict";

(function () {
  const G = window.gankitCommon;
  const $ = G.$, status = G.status;
  const MAX_PIXELS = 40000000;           // pixels of a dropped image, as the studio

  const state = { run: null, session: null, busy: false, pending: null, count: 0, ready: false,
                  get error() { return G.error; } };  // the last error the status line showed
  window.gankitTranslate = { state };

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
    G.drawCHW($("tr-output"), y, C, S);
    state.count += 1;
    status("translated at " + S + "x" + S + " px (step " + state.run.step + ")");
  }

  // -- a dropped image ----------------------------------------------------------------------------
  function loadFile(file) {
    if (!file || !state.ready) return;
    if (G.tooLarge(file)) return;
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

  // -- start -----------------------------------------------------------------------------------
  async function start() {
    state.run = await G.exportedRun();
    if (state.run.kind !== "translation") throw new Error("run.json is not a translation run's");
    G.showRun(state.run);
    $("tr-out-cap").textContent = state.run.domains.a + " \u2192 " + state.run.domains.b;
    $("tr-command").textContent = "gankit translate " + state.run.run_path + " IMAGE --direction " +
      state.run.direction;
    state.session = await G.ortSession(state.run, "translator");
    $("translate").hidden = false;
    $("sketch").hidden = !state.run.canvas;
    if (state.run.canvas) G.resetPad(state.run.image_size);
    state.ready = true;
    status(state.run.canvas ? "draw on the canvas, or drop an image, to translate it"
                            : "drop an image to translate it");
  }

  function wire() {
    G.wireDrop("drop", "file", loadFile);
    G.wirePad(() => translateCanvas($("pad")), () => state.run && state.run.image_size);
  }

  G.startExported(wire, start);
})();
