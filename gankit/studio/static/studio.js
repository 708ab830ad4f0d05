// gankit studio: the page. Plain JavaScript, no build step, no outside requests. What it
// shares with the exported pages (status line, seeds, grid, sliders, drawing pad, ...) is
// in gankit-common.js, loaded before it.
"use strict";

(function () {
  const G = window.gankitCommon;
  const $ = G.$, status = G.status, compact = G.compact;

  const state = {
    client: Math.random().toString(36).slice(2, 12) + Date.now().toString(36),
    runs: [], run: null, info: null,
    seeds: [], images: {}, pinned: [], pos: new Set(), neg: new Set(),
    command: "", walkCommand: "",
    gridCtrl: null, gridSeq: 0, gridError: null,
    walkCtrl: null, walkSeq: 0, frames: [], frameCount: 0, walkDone: false, frameIndex: 0,
    timer: null, lastFile: null, translated: null, translateSeq: 0,
    projections: {}, projectSeq: 0,
  };
  window.studio = { state };  // project(file) is added below, for tests and scripts

  // -- small helpers ---------------------------------------------------------------------
  async function fail(res) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }

  async function getJSON(path, params, signal) {
    const res = await fetch(path + (params ? "?" + params : ""), { signal });
    if (!res.ok) await fail(res);
    return res.json();
  }

  function quiet(err) {  // aborted or superseded requests are not errors
    return err && (err.name === "AbortError" || err.status === 409);
  }

  function report(err) {
    if (!quiet(err)) status(err.message, true);
  }

  // -- the current settings as query parameters ------------------------------------------
  function truncation() {
    const el = $("trunc");
    if (!state.info || !state.info.truncation) return null;
    return Number(el.value) >= Number(el.max) ? null : Number(el.value);
  }

  function directionsParam() {
    const parts = [];
    document.querySelectorAll("#dir-sliders input[type=range]").forEach((el) => {
      const v = Number(el.value);
      if (v !== 0) parts.push(el.dataset.name + ":" + v);
    });
    return parts.join(",");
  }

  function classParams(p) {  // class-conditional runs: the picked class and the mix
    if (!state.info || !(state.info.classes || []).length) return;
    const a = $("class-a").value, b = $("class-b").value, mix = Number($("class-mix").value);
    if (a === "") return;
    p.set("class", a);
    if (b !== "" && mix > 0) { p.set("class_b", b); p.set("mix", mix); }
  }

  function fillClasses(classes) {
    $("class-row").hidden = !classes.length;
    for (const [id, first] of [["class-a", "all, in turn"], ["class-b", "none"]]) {
      const sel = $(id);
      sel.textContent = "";
      const none = document.createElement("option");
      none.value = ""; none.textContent = first;
      sel.appendChild(none);
      classes.forEach((name, i) => {
        const o = document.createElement("option");
        o.value = String(i); o.textContent = name;
        sel.appendChild(o);
      });
    }
    $("class-mix").value = 0; $("class-mix-out").textContent = "0.00";
  }

  function params(extra) {
    const p = new URLSearchParams();
    p.set("run", state.run);
    const t = truncation();
    if (t !== null) p.set("truncation", t);
    classParams(p);
    const d = directionsParam();
    if (d) p.set("directions", d);
    for (const [k, v] of Object.entries(extra || {})) if (v !== null && v !== undefined) p.set(k, v);
    return p;
  }

  // -- runs ----------------------------------------------------------------------------------
  async function loadRuns() {
    const data = await getJSON("/api/runs");
    state.runs = data.runs;
    const sel = $("run");
    sel.textContent = "";
    for (const r of data.runs) {
      const o = document.createElement("option");
      o.value = r.id;
      o.textContent = r.id + (r.model ? "  (" + r.model + (r.step != null ? ", step " + r.step : "") +
        (r.status ? ", " + r.status : "") + ")" : "");
      sel.appendChild(o);
    }
    const wanted = new URLSearchParams(location.search).get("run");
    sel.value = data.runs.some((r) => r.id === wanted) ? wanted : data.default;
    await openRun(sel.value);
  }

  async function openRun(id) {
    stopWalk();
    state.run = id;
    status("loading " + id + " ...");
    let info;
    try {
      info = await getJSON("/api/run", new URLSearchParams({ run: id }));
    } catch (err) { report(err); return; }
    state.info = info;
    $("run-info").textContent = info.model + ", step " + info.step +
      (info.total_steps ? " of " + info.total_steps : "") + (info.status ? ", " + info.status : "") +
      ", " + info.image_size + " px, " + (info.data || "");
    const translation = info.kind === "translation";
    $("latent").hidden = translation;
    $("translate").hidden = !translation;
    if (translation) {
      $("dom-a").textContent = $("dom-a2").textContent = info.domains.a;
      $("dom-b").textContent = $("dom-b2").textContent = info.domains.b;
      const twoWay = (info.translations || ["a2b", "b2a"]).includes("b2a");
      $("tr-b2a").hidden = !twoWay;
      $("tr-back-fig").hidden = !twoWay;
      if (!twoWay) document.querySelector("input[name=tr-dir][value=a2b]").checked = true;
      $("sketch").hidden = !info.canvas;
      if (info.canvas) {
        state.lastFile = null;
        G.resetPad(info.image_size);
        status("draw on the canvas, or drop an image, to translate it");
        return;
      }
      status("drop an image to translate it");
      if (state.lastFile) translate(state.lastFile);
      return;
    }
    $("trunc-row").hidden = !info.truncation;
    fillClasses(info.classes || []);
    state.pinned = []; state.pos.clear(); state.neg.clear();
    G.buildSliders(info.directions, changed);
    updateMarks();
    await refreshGrid();
  }

  // -- sliders: a change redraws the grid and the walk --------------------------------------
  const changed = G.debounce(() => {
    refreshGrid();
    if (state.pinned.length >= 2) startWalk();
  }, 60);

  // -- the grid ------------------------------------------------------------------------------
  async function refreshGrid() {
    if (!state.info || state.info.kind === "translation") return;
    if (state.gridCtrl) state.gridCtrl.abort();
    const ctrl = state.gridCtrl = new AbortController();
    const text = $("seeds").value;
    const p = params({ seeds: text, client: state.client });
    try {
      const data = await getJSON("/api/samples", p, ctrl.signal);
      state.seeds = data.seeds;
      state.images = {};
      data.seeds.forEach((s, i) => { state.images[s] = data.images[i]; });
      state.command = data.command;
      $("command").textContent = data.command;
      G.renderGrid(state.seeds, state.images, state.info && state.info.image_size < 64, clickCell);
      updateMarks();
      state.gridSeq += 1;
      state.gridError = null;
      status(data.seeds.length + " samples, step " + data.step);
    } catch (err) {
      if (!quiet(err)) { state.gridError = err.message; report(err); }
    }
  }

  function updateMarks() {
    document.querySelectorAll(".cell").forEach((fig) => {
      const s = seedOf(fig.dataset.seed);
      const pin = state.pinned.indexOf(s);
      fig.classList.toggle("pinned", pin >= 0);
      fig.classList.toggle("pos", state.pos.has(s));
      fig.classList.toggle("neg", state.neg.has(s));
      fig.querySelector(".badge").textContent =
        (pin >= 0 ? String.fromCharCode(65 + pin) : "") + (state.pos.has(s) ? " +" : state.neg.has(s) ? " \u2212" : "");
    });
    $("npos").textContent = state.pos.size;
    $("nneg").textContent = state.neg.size;
  }

  function seedOf(text) {  // "17" -> 17; a projected picture's id ("p1") stays a string
    return /^p\d+$/.test(text) ? text : Number(text);
  }

  function clickCell(seed) {
    const mode = document.querySelector("input[name=mode]:checked").value;
    if ((mode === "pos" || mode === "neg") && typeof seed !== "number") {
      status("a projected picture is not a seed; fit a direction from folders of pictures " +
             "with `gankit direction fit NAME RUN --positive-images DIR --negative-images DIR`", true);
      return;
    }
    if (mode === "pos" || mode === "neg") {
      const mine = mode === "pos" ? state.pos : state.neg;
      const other = mode === "pos" ? state.neg : state.pos;
      other.delete(seed);
      if (mine.has(seed)) mine.delete(seed); else mine.add(seed);
      updateMarks();
      return;
    }
    G.togglePin(state.pinned, seed);
    updateMarks();
    if (state.pinned.length >= 2) startWalk(); else stopWalk(true);
  }

  function shuffle() {
    const n = Number($("count").value);
    const start = Math.floor(Math.random() * 1e6);
    const seeds = new Set();
    while (seeds.size < n) seeds.add(start + Math.floor(Math.random() * 1e6));
    $("seeds").value = compact([...seeds].sort((a, b) => a - b));
    state.pinned = [];
    stopWalk(true);
    refreshGrid();
  }

  // -- interpolation -------------------------------------------------------------------------
  function walkParams(extra) {
    return params(Object.assign({
      seeds: state.pinned.join(","), frames: $("frames").value, method: $("method").value,
      loop: $("loop").checked ? 1 : 0, fps: $("fps").value,
    }, extra || {}));
  }

  function stopWalk(hide) {
    if (state.walkCtrl) state.walkCtrl.abort();
    state.walkCtrl = null;
    clearInterval(state.timer);
    state.timer = null;
    if (hide) $("anim").hidden = true;
  }

  async function startWalk() {
    stopWalk(false);
    const ctrl = state.walkCtrl = new AbortController();
    const seq = ++state.walkSeq;
    state.frames = []; state.frameIndex = 0; state.walkDone = false; state.frameCount = 0;
    $("anim").hidden = false;
    $("anim-seeds").textContent = "seeds " + state.pinned.join(" \u2192 ");
    $("anim-img").classList.toggle("pixelated", state.info.image_size < 64);
    const prog = $("anim-progress");
    prog.value = 0;
    G.play(state);
    try {
      const res = await fetch("/api/walk?" + walkParams({ client: state.client }), { signal: ctrl.signal });
      if (!res.ok) await fail(res);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
          if (!line.trim() || seq !== state.walkSeq) continue;
          const msg = JSON.parse(line);
          if (msg.type === "start") {
            state.frameCount = msg.frames; prog.max = msg.frames; state.walkMethod = msg.method;
            state.walkCommand = msg.command; $("walk-command").textContent = msg.command;
          } else if (msg.type === "frame") {
            state.frames[msg.i] = msg.image; prog.value = msg.i + 1;
            if (msg.i === 0) $("anim-img").src = msg.image;
          } else if (msg.type === "end") {
            state.walkDone = true;
            status(msg.frames + " frames, " + state.walkMethod + " through seeds " + state.pinned.join(", "));
          } else if (msg.type === "error") {
            status(msg.error, true);
          }
        }
      }
    } catch (err) { if (seq === state.walkSeq) report(err); }
  }

  // -- directions ------------------------------------------------------------------------------
  async function fit() {
    const name = $("dir-name").value.trim();
    if (!name) { status("give the direction a name", true); return; }
    if (!state.pos.size || !state.neg.size) {
      status("mark at least one positive and one negative sample", true); return;
    }
    const body = { run: state.run, name, positive: [...state.pos], negative: [...state.neg],
                   replace: $("dir-replace").checked };
    try {
      const res = await fetch("/api/directions", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (!res.ok) await fail(res);
      const data = await res.json();
      state.info.directions = data.directions;
      G.buildSliders(data.directions, changed);
      $("fit-msg").textContent = "saved '" + data.name + "' (|d| = " + data.norm + "): " + data.command;
      state.pos.clear(); state.neg.clear(); updateMarks();
      status("direction '" + data.name + "' saved in the run");
    } catch (err) { report(err); }
  }

  // -- saving ----------------------------------------------------------------------------------
  function savePng() {
    const seeds = state.pinned.length === 1 ? [state.pinned[0]] : state.seeds;
    G.download("/api/export.png?" + params({ seeds: compact(seeds), label: seeds.length > 1 ? 1 : 0,
      cols: Math.min(8, seeds.length) }));
  }

  function saveGif() {
    if (state.pinned.length < 2) return;
    const p = walkParams();
    p.set("size", Math.max(64, Math.min(256, state.info.image_size)));
    G.download("/api/export.gif?" + p);
  }

  // -- projecting a picture --------------------------------------------------------------------
  async function project(file) {
    if (!file) return;
    if (G.tooLarge(file)) return;
    const seq = ++state.projectSeq;
    status("projecting " + (file.name || "picture") + " into the latent space ...");
    $("project-msg").textContent = "projecting ...";
    const p = new URLSearchParams({ run: state.run, client: state.client,
                                    steps: $("project-steps").value });
    try {
      const res = await fetch("/api/project?" + p, {
        method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file });
      if (!res.ok) await fail(res);
      const data = await res.json();
      if (seq !== state.projectSeq) return;
      state.projections[data.id] = data;
      const others = $("seeds").value.split(",").map((x) => x.trim()).filter(Boolean);
      $("seeds").value = [data.id, ...others].join(",");
      G.addPin(state.pinned, data.id);
      $("project-msg").textContent = (file.name || "picture") + " is " + data.id + ": " +
        data.distance + " distance " + data.start_perceptual.toFixed(3) + " \u2192 " +
        data.perceptual.toFixed(3) + ", pixel " + data.pixel.toFixed(3) + " (" + data.command + ")";
      await refreshGrid();
      if (state.pinned.length >= 2) startWalk();
      status("projected " + (file.name || "picture") + " as tile " + data.id);
    } catch (err) { $("project-msg").textContent = ""; report(err); }
  }

  // -- translation -------------------------------------------------------------------------------
  async function translate(file) {
    if (!file) return;
    if (G.tooLarge(file)) return;
    state.lastFile = file;
    const dir = document.querySelector("input[name=tr-dir]:checked").value;
    const seq = ++state.translateSeq;
    status("translating " + (file.name || "image") + " ...");
    const p = new URLSearchParams({ run: state.run, direction: dir, client: state.client });
    try {
      const res = await fetch("/api/translate?" + p, {
        method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file });
      if (!res.ok) await fail(res);
      const data = await res.json();
      if (seq !== state.translateSeq) return;
      $("tr-input").src = data.input;
      $("tr-output").src = data.output;
      if (data.back) $("tr-back").src = data.back; else $("tr-back").removeAttribute("src");
      const [a, b] = dir === "a2b" ? [state.info.domains.a, state.info.domains.b]
                                   : [state.info.domains.b, state.info.domains.a];
      $("tr-out-cap").textContent = a + " \u2192 " + b;
      $("tr-command").textContent = data.command;
      state.translated = data;
      status("translated " + dir + " at " + data.size.join("x") + " px, step " + data.step);
    } catch (err) { report(err); }
  }

  // -- the drawing canvas (runs trained on edge maps) ----------------------------------------------
  // Each change sends the drawing through /api/translate like an upload (the server's
  // single worker drops stale ones).
  function sendPad() {
    $("pad").toBlob((blob) => {
      if (blob) translate(new File([blob], "drawing.png", { type: "image/png" }));
    }, "image/png");
  }

  // -- wiring ------------------------------------------------------------------------------------
  function wire() {
    $("run").addEventListener("change", (e) => {
      history.replaceState(null, "", "?run=" + encodeURIComponent(e.target.value));
      openRun(e.target.value);
    });
    G.wireLatentPage(state, {
      shuffle, truncation, changed, startWalk, stopWalk, updateMarks, savePng,
      show: () => {
        try { G.parseSeeds($("seeds").value, true); } catch (err) { status(err.message, true); return; }
        refreshGrid();
      },
      active: () => !$("latent").hidden,
      pause: () => stopWalk(false),
    });
    $("class-a").addEventListener("change", () => changed());
    $("class-b").addEventListener("change", () => changed());
    $("class-mix").addEventListener("input", () => {
      $("class-mix-out").textContent = Number($("class-mix").value).toFixed(2);
      changed();
    });
    $("save-gif").addEventListener("click", saveGif);
    $("fit").addEventListener("click", fit);
    $("clear-marks").addEventListener("click", () => { state.pos.clear(); state.neg.clear(); updateMarks(); });
    G.wireDrop("drop", "file", translate);
    G.wireDrop("project-drop", "project-file", project);
    document.querySelectorAll("input[name=tr-dir]").forEach((el) =>
      el.addEventListener("change", () => translate(state.lastFile)));
    G.wirePad(sendPad, () => state.info && state.info.image_size);
  }

  window.studio.project = project;

  document.addEventListener("DOMContentLoaded", () => {
    wire();
    loadRuns().catch(report);
  });
})();
