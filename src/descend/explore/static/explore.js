// descend explore: draws what the server computed. No optimisation maths here: every path, loss
// and verdict comes from POST /api/run (descend.minimize on the server); the page keeps the view's
// state in the URL and draws with a plain 2-D canvas.
"use strict";

(function () {
  const COLORS = ["#e4572e", "#2e86de", "#f5b700", "#2ca02c", "#a259ff", "#17becf"];
  const PAD = { left: 58, right: 14, top: 12, bottom: 40 };  // plot area inside each canvas (CSS px)
  const $ = (id) => document.getElementById(id);

  const app = {
    catalogue: null, scenes: {}, sceneData: {}, scene: null, result: null,
    frame: 0, playing: false, inFlight: false, pending: false, timings: [], errors: 0,
  };
  window.explore = app;  // for outside tests and the curious

  // ------------------------------------------------------------------ small helpers

  function fmt(v, digits) {
    if (v === null || v === undefined) return "–";
    if (!isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential((digits || 4) - 1).replace("e+", "e");
    return String(Number(v.toPrecision(digits || 4)));
  }

  function niceTicks(lo, hi, n) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || 10 * mag;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) out.push(Math.abs(t) < 1e-12 * span ? 0 : t);
    return out;
  }

  function setupCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = 520, h = 440;
    if (canvas.width !== w * dpr) {
      canvas.width = w * dpr; canvas.height = h * dpr;
      canvas.style.width = w + "px"; canvas.style.height = h + "px";
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx, w, h, pw: w - PAD.left - PAD.right, ph: h - PAD.top - PAD.bottom };
  }

  // An axis frame mapping data to CSS pixels; ylog maps log10(y).
  function frame(c, x0, x1, y0, y1, ylog) {
    const fy = ylog ? (v) => Math.log10(v) : (v) => v;
    const Y0 = fy(y0), Y1 = fy(y1);
    return {
      x0, x1, y0, y1, ylog,
      px: (x) => PAD.left + (x - x0) / (x1 - x0) * c.pw,
      py: (y) => PAD.top + (1 - (fy(y) - Y0) / (Y1 - Y0)) * c.ph,
    };
  }

  function drawAxes(c, f, xlabel, ylabel) {
    const ctx = c.ctx;
    ctx.save();
    ctx.strokeStyle = "#444"; ctx.fillStyle = "#333"; ctx.font = "11px system-ui, sans-serif"; ctx.lineWidth = 1;
    ctx.strokeRect(PAD.left, PAD.top, c.pw, c.ph);
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const t of niceTicks(f.x0, f.x1, 6)) {
      const x = f.px(t);
      ctx.beginPath(); ctx.moveTo(x, PAD.top + c.ph); ctx.lineTo(x, PAD.top + c.ph + 4); ctx.stroke();
      ctx.fillText(fmt(t, 3), x, PAD.top + c.ph + 6);
    }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    const yt = f.ylog ? logTicks(f.y0, f.y1) : niceTicks(f.y0, f.y1, 6);
    for (const t of yt) {
      const y = f.py(t);
      ctx.beginPath(); ctx.moveTo(PAD.left - 4, y); ctx.lineTo(PAD.left, y); ctx.stroke();
      ctx.fillText(f.ylog ? "1e" + Math.round(Math.log10(t)) : fmt(t, 3), PAD.left - 6, y);
    }
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText(xlabel, PAD.left + c.pw / 2, c.h - 2);
    ctx.translate(12, PAD.top + c.ph / 2); ctx.rotate(-Math.PI / 2); ctx.textBaseline = "middle";
    ctx.fillText(ylabel, 0, 0);
    ctx.restore();
  }

  function logTicks(lo, hi) {
    const a = Math.ceil(Math.log10(lo)), b = Math.floor(Math.log10(hi));
    const every = Math.max(1, Math.ceil((b - a + 1) / 8));
    const out = [];
    for (let e = a; e <= b; e += every) out.push(Math.pow(10, e));
    return out;
  }

  function clip(c) {
    c.ctx.beginPath(); c.ctx.rect(PAD.left, PAD.top, c.pw, c.ph); c.ctx.clip();
  }

  function marker(ctx, x, y, kind, color) {
    ctx.save(); ctx.lineWidth = 2; ctx.strokeStyle = color || "#fff";
    ctx.beginPath();
    if (kind === "x") { ctx.moveTo(x - 5, y - 5); ctx.lineTo(x + 5, y + 5); ctx.moveTo(x + 5, y - 5); ctx.lineTo(x - 5, y + 5); }
    else if (kind === "+") { ctx.moveTo(x - 6, y); ctx.lineTo(x + 6, y); ctx.moveTo(x, y - 6); ctx.lineTo(x, y + 6); }
    else { ctx.arc(x, y, 5, 0, 2 * Math.PI); }
    ctx.stroke(); ctx.restore();
  }

  // A banded colour map (contours as colour steps) over log(z - zmin): a viridis-like ramp.
  const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function ramp(t) {
    t = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(t)), u = t - i;
    return RAMP[i].map((a, k) => Math.round(a + (RAMP[i + 1][k] - a) * u));
  }

  function contourImage(data) {
    if (data._image) return data._image;
    const nx = data.x.length, ny = data.y.length;
    let lo = Infinity, hi = -Infinity;
    for (const row of data.z) for (const v of row) if (v !== null) { if (v < lo) lo = v; if (v > hi) hi = v; }
    // Bounded below (a known minimum): bands of log(z - zmin), which open up the valleys. Unbounded
    // (saddles): bands of equal area, by rank.
    const delta = Math.max((hi - lo) * 1e-3, 1e-12);
    const L0 = Math.log(delta), L1 = Math.log(hi - lo + delta);
    const bounded = data.min_value !== null && data.min_value !== undefined;
    const sorted = [];
    if (!bounded) { for (const row of data.z) for (const v of row) if (v !== null) sorted.push(v); sorted.sort((a, b) => a - b); }
    const rank = (v) => {  // the fraction of grid values below v
      let a = 0, b = sorted.length;
      while (a < b) { const m = (a + b) >> 1; if (sorted[m] < v) a = m + 1; else b = m; }
      return a / Math.max(1, sorted.length - 1);
    };
    const level = (v) => (bounded ? (Math.log(v - lo + delta) - L0) / (L1 - L0) : rank(v));
    const canvas = document.createElement("canvas");
    canvas.width = nx; canvas.height = ny;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(nx, ny);
    const bands = 18;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = data.z[j][i], p = ((ny - 1 - j) * nx + i) * 4;
        if (v === null) { img.data[p + 3] = 0; continue; }
        const t = Math.floor(level(v) * bands) / bands;
        const [r, g, b] = ramp(t);
        img.data[p] = r; img.data[p + 1] = g; img.data[p + 2] = b; img.data[p + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    data._image = canvas;
    return canvas;
  }

  // ------------------------------------------------------------------ the main plot

  function drawPlot() {
    const canvas = $("plot"), c = setupCanvas(canvas), ctx = c.ctx, data = app.sceneData[app.scene];
    const res = app.result && app.result.scene === app.scene ? app.result : null;
    if (!data) return;
    let f;
    if (data.kind === "curve") {
      if (!res) return;
      const ws = res.curve.w, cs = res.curve.cost;
      let ymax = 0;
      for (const v of cs) if (v !== null && v > ymax) ymax = v;
      f = frame(c, ws[0], ws[ws.length - 1], 0, ymax * 1.05 || 1, false);
      ctx.save(); clip(c);
      ctx.strokeStyle = "#999"; ctx.lineWidth = 2; ctx.beginPath();
      ws.forEach((w, i) => { if (cs[i] !== null) (i ? ctx.lineTo(f.px(w), f.py(cs[i])) : ctx.moveTo(f.px(w), f.py(cs[i]))); });
      ctx.stroke();
      for (const m of data.minima) marker(ctx, f.px(m[0]), f.py(0), "+", "#333");
      res.runs.forEach((r, k) => drawPath(ctx, f, r.w.map((w, i) => [w[0], r.loss[i]]), COLORS[k % COLORS.length], "#fff"));
      ctx.restore();
      drawAxes(c, f, data.xlabel, data.ylabel);
    } else {
      const [[x0, x1], [y0, y1]] = data.bounds;
      f = frame(c, x0, x1, y0, y1, false);
      ctx.save();
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(contourImage(data), PAD.left, PAD.top, c.pw, c.ph);
      clip(c);
      for (const m of data.minima) marker(ctx, f.px(m[0]), f.py(m[1]), "+", "#fff");
      for (const m of data.saddles) marker(ctx, f.px(m[0]), f.py(m[1]), "x", "#fff");
      for (const m of data.maxima) marker(ctx, f.px(m[0]), f.py(m[1]), "o", "#fff");
      if (res) res.runs.forEach((r, k) => drawPath(ctx, f, r.w, COLORS[k % COLORS.length], "rgba(0,0,0,0.55)"));
      ctx.restore();
      drawAxes(c, f, data.xlabel, data.ylabel);
    }
    // The mapping, for outside tests: the plot area in CSS px inside the canvas, and its data range.
    Object.assign(canvas.dataset, { x0: f.x0, x1: f.x1, y0: f.y0, y1: f.y1, left: PAD.left, top: PAD.top,
                                    width: c.pw, height: c.ph });
    app.plotFrame = f;
  }

  function drawPath(ctx, f, pts, color, halo) {
    const n = Math.min(pts.length, app.frame + 1);
    const ok = (p) => p[0] !== null && p[1] !== null && isFinite(p[0]) && isFinite(p[1]);
    for (const [width, col] of [[4, halo], [2, color]]) {
      ctx.strokeStyle = col; ctx.lineWidth = width; ctx.lineJoin = "round"; ctx.beginPath();
      let started = false;
      for (let i = 0; i < n; i++) {
        if (!ok(pts[i])) { started = false; continue; }
        const x = f.px(pts[i][0]), y = f.py(pts[i][1]);
        started ? ctx.lineTo(x, y) : ctx.moveTo(x, y); started = true;
      }
      ctx.stroke();
    }
    if (n <= 60) {  // few iterates: show each one
      ctx.fillStyle = color;
      for (let i = 0; i < n; i++) if (ok(pts[i])) { ctx.beginPath(); ctx.arc(f.px(pts[i][0]), f.py(pts[i][1]), 2.5, 0, 2 * Math.PI); ctx.fill(); }
    }
    if (ok(pts[0])) { ctx.fillStyle = "#fff"; ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(f.px(pts[0][0]), f.py(pts[0][1]), 5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke(); }
    const last = pts[n - 1];
    if (last && ok(last)) { ctx.fillStyle = color; ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5; ctx.beginPath(); ctx.arc(f.px(last[0]), f.py(last[1]), 5.5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke(); }
  }

  // ------------------------------------------------------------------ the loss chart

  function drawLoss() {
    const canvas = $("loss"), c = setupCanvas(canvas), ctx = c.ctx;
    const res = app.result, data = app.sceneData[app.scene];
    if (!res || !data || res.scene !== app.scene) return;
    const offset = data.min_value === null || data.min_value === undefined ? 0 : data.min_value;
    const series = res.runs.map((r) => r.loss.map((v) => (v === null ? null : v - offset)));
    let lo = Infinity, hi = -Infinity, minPos = Infinity, n = 1;
    for (const s of series) {
      n = Math.max(n, s.length);
      for (const v of s) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); if (v > 0) minPos = Math.min(minPos, v); }
    }
    if (!isFinite(hi)) return;
    const ylog = minPos < Infinity && hi > 0 && (lo > 0 || offset !== 0 || lo >= 0);
    let f;
    if (ylog) {
      const floor = Math.max(minPos, hi * 1e-30);
      f = frame(c, 0, Math.max(1, n - 1), Math.pow(10, Math.floor(Math.log10(floor))), Math.pow(10, Math.ceil(Math.log10(hi)) + 0.0001), true);
    } else {
      const pad = (hi - lo) * 0.05 || 1;
      f = frame(c, 0, Math.max(1, n - 1), lo - pad, hi + pad, false);
    }
    ctx.save(); clip(c);
    series.forEach((s, k) => {
      ctx.strokeStyle = COLORS[k % COLORS.length]; ctx.lineWidth = 2; ctx.beginPath();
      let started = false;
      for (let i = 0; i < s.length && i <= app.frame; i++) {
        let v = s[i];
        if (v === null) { started = false; continue; }
        if (ylog) v = Math.max(v, f.y0);
        const x = f.px(i), y = f.py(v);
        started ? ctx.lineTo(x, y) : ctx.moveTo(x, y); started = true;
      }
      ctx.stroke();
    });
    ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "right"; ctx.textBaseline = "top";
    res.runs.forEach((r, k) => {  // legend, top right
      const y = PAD.top + 6 + 15 * k, x = PAD.left + c.pw - 8;
      ctx.fillStyle = "rgba(255,255,255,0.85)"; ctx.fillRect(x - ctx.measureText(r.label).width - 26, y - 2, ctx.measureText(r.label).width + 30, 15);
      ctx.fillStyle = COLORS[k % COLORS.length]; ctx.fillRect(x - ctx.measureText(r.label).width - 20, y + 4, 14, 3);
      ctx.fillStyle = "#222"; ctx.fillText(r.label, x, y);
    });
    const xf = f.px(Math.min(app.frame, n - 1));
    ctx.strokeStyle = "rgba(0,0,0,0.3)"; ctx.setLineDash([4, 4]); ctx.beginPath(); ctx.moveTo(xf, PAD.top); ctx.lineTo(xf, PAD.top + c.ph); ctx.stroke();
    ctx.restore();
    app.lossFrame = f;
    Object.assign(canvas.dataset, { x0: f.x0, x1: f.x1, left: PAD.left, top: PAD.top, width: c.pw, height: c.ph });
    const what = offset !== 0 ? `loss − ${fmt(offset, 5)} (the minimum)` : "loss";
    drawAxes(c, f, res.scene.startsWith("lecture") ? "epoch" : "step", ylog ? what + " (log)" : what);
  }

  function draw() {
    drawPlot(); drawLoss();
    const n = maxFrame();
    $("frame").textContent = app.result ? `epoch ${Math.min(app.frame, n)} of ${n}` : "";
  }

  function maxFrame() {
    return app.result ? Math.max(...app.result.runs.map((r) => r.w.length)) - 1 : 0;
  }

  // ------------------------------------------------------------------ controls

  function optimizerOptions(select, chosen) {
    select.innerHTML = "";
    for (const name of Object.keys(app.catalogue.optimizers)) {
      const o = document.createElement("option"); o.value = name; o.textContent = name; select.appendChild(o);
    }
    select.value = chosen;
  }

  function addRunner(spec) {
    const box = $("runners"), i = box.children.length, scene = app.scenes[app.scene];
    const row = document.createElement("div");
    row.className = "runner";
    row.style.borderLeftColor = COLORS[i % COLORS.length];
    const sel = document.createElement("select"); sel.className = "opt";
    optimizerOptions(sel, spec.optimizer);
    const lr = document.createElement("input"); lr.type = "number"; lr.step = "any"; lr.min = "0"; lr.className = "lr";
    lr.value = spec.lr !== undefined ? spec.lr : scene.lrs[spec.optimizer];
    if (i === 0) { sel.id = "optimizer"; lr.id = "lr"; }
    const lrLabel = document.createElement("label"); lrLabel.textContent = "lr "; lrLabel.appendChild(lr);
    row.append(sel, lrLabel);
    if (i === 0) row.appendChild(slider(lr));
    if (scene.batches) {
      const b = document.createElement("select"); b.className = "batch";
      for (const v of ["full", "1", "2", "3", "4"]) {
        const o = document.createElement("option"); o.value = v;
        o.textContent = v === "full" ? "full batch (GD)" : v === "1" ? "1 row (SGD)" : `mini-batch ${v}`; b.appendChild(o);
      }
      b.value = String(spec.batch === undefined ? "full" : spec.batch);
      b.addEventListener("change", requestRun);
      row.appendChild(b);
    }
    const hps = document.createElement("span"); hps.className = "hps"; row.appendChild(hps);
    fillHyper(hps, spec.optimizer, spec.params || {});
    if (i > 0) {
      const rm = document.createElement("button"); rm.type = "button"; rm.textContent = "×"; rm.title = "remove";
      rm.addEventListener("click", () => { row.remove(); recolor(); requestRun(); });
      row.appendChild(rm);
    }
    sel.addEventListener("change", () => {
      lr.value = app.scenes[app.scene].lrs[sel.value];
      fillHyper(hps, sel.value, {});
      syncSlider(); requestRun();
    });
    lr.addEventListener("change", () => { syncSlider(); requestRun(); });
    box.appendChild(row);
    syncSlider();
  }

  function recolor() {
    [...$("runners").children].forEach((row, i) => { row.style.borderLeftColor = COLORS[i % COLORS.length]; });
  }

  function fillHyper(box, name, given) {
    box.innerHTML = "";
    const params = app.catalogue.optimizers[name].params;
    for (const [k, def] of Object.entries(params)) {
      const label = document.createElement("label"), inp = document.createElement("input");
      inp.className = "hp"; inp.dataset.k = k;
      if (typeof def === "boolean") { inp.type = "checkbox"; inp.checked = k in given ? !!given[k] : def; }
      else { inp.type = "number"; inp.step = "any"; inp.value = k in given ? given[k] : def; }
      inp.dataset.def = String(def);
      inp.addEventListener("change", requestRun);
      label.append(k + " ", inp);
      box.appendChild(label);
    }
  }

  // The first optimizer's lr as a log-scale slider with the stable limit 2/λmax marked on it.
  const LOG_MIN = -4, LOG_MAX = 0.5;
  function slider(lrInput) {
    const wrap = document.createElement("span"); wrap.className = "slider";
    const r = document.createElement("input"); r.type = "range"; r.id = "lr-slider";
    r.min = LOG_MIN; r.max = LOG_MAX; r.step = "0.01";
    const mark = document.createElement("span"); mark.className = "mark"; mark.id = "lr-mark";
    wrap.append(r, mark);
    r.addEventListener("input", () => { lrInput.value = Number(Math.pow(10, Number(r.value)).toPrecision(3)); requestRun(); });
    return wrap;
  }

  function syncSlider() {
    const r = $("lr-slider"), lr = Number($("lr") && $("lr").value);
    if (r && lr > 0) r.value = Math.log10(lr);
  }

  function markStable(stable) {
    const mark = $("lr-mark");
    if (!mark) return;
    if (stable === null || stable === undefined || !(stable > 0)) { mark.style.display = "none"; return; }
    const t = (Math.log10(stable) - LOG_MIN) / (LOG_MAX - LOG_MIN);
    if (t < 0 || t > 1) { mark.style.display = "none"; return; }
    mark.style.display = "block";
    const thumb = 16, width = 220;  // the range input's thumb travels width - thumb pixels
    mark.style.left = (thumb / 2 + t * (width - thumb)) + "px";
    mark.classList.toggle("flip", t > 0.5);  // the label on the side with room
    const here = app.scene.startsWith("lecture") ? "" : " at the start";
    mark.textContent = `2/λmax${here} = ${fmt(stable, 4)}`;
    mark.title = "plain gradient descent diverges above this learning rate (descend.diagnose.stable_lr)";
  }

  function readRunners() {
    return [...$("runners").children].map((row) => {
      const spec = { optimizer: row.querySelector(".opt").value, lr: Number(row.querySelector(".lr").value), params: {} };
      for (const inp of row.querySelectorAll(".hp")) {
        if (inp.type === "checkbox") { if (String(inp.checked) !== inp.dataset.def) spec.params[inp.dataset.k] = inp.checked; }
        else if (inp.value !== "" && inp.value !== inp.dataset.def) spec.params[inp.dataset.k] = Number(inp.value);
      }
      const b = row.querySelector(".batch");
      if (b) spec.batch = b.value === "full" ? "full" : Number(b.value);
      return spec;
    });
  }

  function parseStart(text) {
    if (!text.trim()) return null;
    return text.split(",").map((s) => Number(s.trim()));
  }

  // ------------------------------------------------------------------ the URL holds the view

  function toURL(req) {
    const q = new URLSearchParams();
    q.set("scene", req.scene);
    if (req.steps) q.set("steps", req.steps);
    if (req.start) q.set("start", req.start.join(","));
    for (const r of req.runs) {
      const parts = [r.optimizer, "lr=" + r.lr];
      if (r.batch !== undefined && r.batch !== "full") parts.push("batch=" + r.batch);
      for (const [k, v] of Object.entries(r.params)) parts.push(k + "=" + v);
      q.append("opt", parts.join(","));
    }
    history.replaceState(null, "", "?" + q.toString());
  }

  function fromURL() {
    const q = new URLSearchParams(location.search);
    const out = { scene: q.get("scene"), steps: q.get("steps"), start: q.get("start"), runs: [] };
    for (const o of q.getAll("opt")) {
      const [name, ...kv] = o.split(",");
      const spec = { optimizer: name, params: {} };
      for (const item of kv) {
        const [k, v] = item.split("=");
        if (k === "lr") spec.lr = Number(v);
        else if (k === "batch") spec.batch = v === "full" ? "full" : Number(v);
        else spec.params[k] = v === "true" ? true : v === "false" ? false : Number(v);
      }
      out.runs.push(spec);
    }
    return out;
  }

  // ------------------------------------------------------------------ talking to the server

  async function getJSON(url, options) {
    const resp = await fetch(url, options);
    const text = await resp.text();
    let body;
    try { body = JSON.parse(text); } catch (e) { throw new Error(`HTTP ${resp.status}: ${text.slice(0, 200)}`); }
    if (!resp.ok) throw new Error(body.error || `HTTP ${resp.status}`);
    const timing = /dur=([0-9.]+)/.exec(resp.headers.get("Server-Timing") || "");
    app.serverMs = timing ? Number(timing[1]) : null;  // time spent in minimize on the server
    return body;
  }

  async function loadScene(name) {
    if (!app.sceneData[name]) app.sceneData[name] = await getJSON("/api/scene/" + encodeURIComponent(name));
    return app.sceneData[name];
  }

  function request() {
    const start = parseStart($("start").value);
    const steps = $("steps").value === "" ? null : Number($("steps").value);
    return { scene: app.scene, start, steps, runs: readRunners() };
  }

  function requestRun() {
    if (app.inFlight && JSON.stringify(request()) === app.inFlightBody) return;  // that one is on its way
    app.pending = true;
    if (!app.inFlight) runNow();
  }

  async function runNow() {
    app.pending = false; app.inFlight = true;
    const t0 = performance.now();
    const req = request();
    app.inFlightBody = JSON.stringify(req);
    try {
      const res = await getJSON("/api/run", { method: "POST", headers: { "Content-Type": "application/json" }, body: app.inFlightBody });
      if (res.scene === app.scene) {
        app.result = res; app.frame = maxFrame(); app.playing = false; $("play").textContent = "Play";
        $("error").textContent = "";
        $("start").value = res.start.map(String).join(", ");
        toURL({ ...req, start: res.start, steps: res.steps });
        showVerdict(res); summary(res); markStable(res.stable_lr);
        draw();
        await new Promise((r) => requestAnimationFrame(() => r()));
        const end = performance.now();
        app.timings.push({ scene: res.scene, runs: res.runs.length, ms: end - t0, end, server_ms: app.serverMs });
        app.runs = (app.runs || 0) + 1;
        document.body.dataset.runs = app.runs;  // for outside tests: results drawn so far, and of which scene
        document.body.dataset.scene = res.scene;
      }
    } catch (e) {
      app.errors += 1;
      $("error").textContent = "error: " + e.message;
    } finally {
      app.inFlight = false;
      if (app.pending) runNow();
    }
  }

  function showVerdict(res) {
    const r = res.runs[0], box = $("verdict");
    box.innerHTML = "";
    const code = document.createElement("span"); code.className = "code " + r.verdict; code.textContent = r.verdict;
    const msg = document.createElement("span"); msg.className = "msg"; msg.textContent = r.message;
    box.dataset.verdict = r.verdict;
    box.append(code, " ", msg);
  }

  function summary(res) {
    const t = $("summary");
    t.innerHTML = "<tr><th></th><th>run</th><th>status</th><th>verdict</th><th>epochs</th><th>final loss</th><th>final weights</th><th>message</th></tr>";
    res.runs.forEach((r, k) => {
      const tr = document.createElement("tr");
      const cells = ["", r.label, r.status, r.verdict, String(r.epochs), fmt(r.final_loss, 5),
                     "(" + r.final_w.map((v) => fmt(v, 5)).join(", ") + ")", r.message];
      cells.forEach((text, i) => {
        const td = document.createElement("td"); td.textContent = text;
        if (i === 0) { const s = document.createElement("span"); s.className = "swatch"; s.style.background = COLORS[k % COLORS.length]; td.appendChild(s); }
        if (i === 7) td.className = "msg";
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
  }

  async function chooseScene(name, preset) {
    app.scene = name;
    $("scene").value = name;
    const meta = app.scenes[name];
    const data = await loadScene(name);
    $("title").textContent = meta.title;
    $("plot-caption").textContent = data.kind === "curve"
      ? "the cost curve and the iterates on it (○ the start; click to move it); drag the lr slider past the red mark"
      : meta.batches ? "contours of the cost (+ the minimum); the weights at the start of each epoch (history.w); click to start there"
      : "contours of the cost (+ minima, × saddles, ○ maxima); click to start there";
    const d = meta.defaults;
    $("steps").value = preset && preset.steps ? preset.steps : d.steps;
    $("start").value = preset && preset.start ? preset.start : d.start.join(", ");
    $("runners").innerHTML = "";
    const runs = preset && preset.runs.length ? preset.runs : d.runs;
    for (const spec of runs) {
      if (!(spec.optimizer in app.catalogue.optimizers)) { $("error").textContent = `error: unknown optimizer ${spec.optimizer}`; continue; }
      addRunner(spec);
    }
    $("hint").textContent = meta.batches ? "batch: full = GD, 1 row = SGD, k rows = mini-batch" : "each epoch is one step on a function";
    app.result = null; draw();
    requestRun();
  }

  function play() {
    if (!app.result) return;
    if (app.playing) { app.playing = false; $("play").textContent = "Play"; return; }
    const n = maxFrame();
    if (app.frame >= n) app.frame = 0;
    app.playing = true; $("play").textContent = "Pause";
    const per = Math.max(1, Math.ceil(n / 150));  // about 2.5 s for the whole run at 60 frames/s
    const tick = () => {
      if (!app.playing) return;
      app.frame = Math.min(n, app.frame + per);
      draw();
      if (app.frame >= n) { app.playing = false; $("play").textContent = "Play"; return; }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  function onPlotClick(ev) {
    const data = app.sceneData[app.scene], f = app.plotFrame;
    if (!data || !f) return;
    const rect = $("plot").getBoundingClientRect();
    const px = ev.clientX - rect.left, py = ev.clientY - rect.top;
    const c = { pw: rect.width - PAD.left - PAD.right, ph: rect.height - PAD.top - PAD.bottom };
    const u = (px - PAD.left) / c.pw, v = (py - PAD.top) / c.ph;
    if (u < 0 || u > 1 || v < 0 || v > 1) return;
    const x = f.x0 + u * (f.x1 - f.x0), y = f.y1 - v * (f.y1 - f.y0);
    const q = (val, span) => { const s = Math.pow(10, Math.floor(Math.log10(span / 1000))); return Math.round(val / s) * s; };
    $("start").value = data.kind === "curve" ? fmt(q(x, f.x1 - f.x0), 6)  // the lecture: the click's w
      : `${fmt(q(x, f.x1 - f.x0), 6)}, ${fmt(q(y, f.y1 - f.y0), 6)}`;
    requestRun();
  }

  // The loss chart is linked to the picture: press and drag on it to scrub to a step.
  function onLossScrub(ev) {
    if (!(ev.buttons & 1) || !app.result || !app.lossFrame) return;
    const f = app.lossFrame, rect = $("loss").getBoundingClientRect();
    const u = (ev.clientX - rect.left - PAD.left) / (rect.width - PAD.left - PAD.right);
    app.playing = false; $("play").textContent = "Play";
    app.frame = Math.max(0, Math.min(maxFrame(), Math.round(f.x0 + u * (f.x1 - f.x0))));
    draw();
  }

  async function init() {
    try {
      app.catalogue = await getJSON("/api/catalogue");
    } catch (e) { $("error").textContent = "error: " + e.message; return; }
    for (const s of app.catalogue.scenes) {
      app.scenes[s.id] = s;
      const o = document.createElement("option"); o.value = s.id; o.textContent = s.id; $("scene").appendChild(o);
    }
    $("scene").addEventListener("change", () => chooseScene($("scene").value));
    $("run").addEventListener("click", requestRun);
    $("steps").addEventListener("change", requestRun);
    $("start").addEventListener("change", requestRun);
    $("add").addEventListener("click", () => {
      const n = $("runners").children.length;
      if (n >= app.catalogue.limits.max_runs) return;
      const names = Object.keys(app.catalogue.optimizers);
      const name = names[n % names.length];
      addRunner({ optimizer: name }); requestRun();
    });
    $("play").addEventListener("click", play);
    $("step").addEventListener("click", () => {
      if (!app.result) return;
      app.playing = false; $("play").textContent = "Play";
      app.frame = app.frame >= maxFrame() ? 0 : app.frame + 1; draw();
    });
    $("reset").addEventListener("click", () => { app.playing = false; $("play").textContent = "Play"; app.frame = 0; draw(); });
    $("plot").addEventListener("click", onPlotClick);
    $("loss").addEventListener("mousedown", onLossScrub);
    $("loss").addEventListener("mousemove", onLossScrub);
    const preset = fromURL();
    const first = preset.scene && app.scenes[preset.scene] ? preset.scene : "lecture";
    if (preset.scene && !app.scenes[preset.scene]) $("error").textContent = `error: unknown scene ${preset.scene}`;
    await chooseScene(first, preset.scene === first ? preset : null);
  }

  document.addEventListener("DOMContentLoaded", init);
})();
