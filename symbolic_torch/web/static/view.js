"use strict";
// The derivation view: draws the page's JSON (graph, steps, heat maps, worked elements) and
// follows deep links (#step, #step/i,j,k, #step/operand/i,j). In the served app it asks the
// server for what the file does not hold (elements, slices, training iterations).
(() => {
  const DATA = JSON.parse(document.getElementById("derivation-data").textContent);
  const SERVER = DATA.mode === "server";
  let view = DATA;
  let iteration = null;
  const slices = new Map();   // "step|kind" → current leading indices
  let selected = null;        // {step, kind, pos}

  const $ = (sel) => document.querySelector(sel);
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "html") e.innerHTML = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined) e.setAttribute(k, v);
    }
    for (const c of kids) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  const num = (v) => (typeof v === "string" ? Number(v) : v);
  const fmt = (v) => { v = num(v); return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v); };
  const shapeText = (s) => (s.length ? s.join("×") : "scalar");
  const ranges = (shape) => (shape.length ? shape.map((n) => `0..${n - 1}`).join(", ") : "none (scalar)");
  const query = (params) => new URLSearchParams(iteration === null ? params : { ...params, iteration }).toString();

  function findStep(key) {
    return view.steps.find((s) => s.name === key) || view.steps.find((s) => s.module_path === key);
  }
  function tensorOf(step, kind) {
    if (kind === "forward") return step.tensor;
    const g = step.gradients.find((x) => x.key === kind);
    return g ? g.tensor : undefined;
  }
  function kindTitle(step, kind) {
    return kind === "forward" ? `output of ${step.name}` : `∂L/∂${kind} (this step's contribution)`;
  }

  function renderSummary() {
    const ins = view.inputs.map((i) => `${i.name} (${shapeText(i.shape)})`).join(", ");
    const loss = view.loss === null ? "" : ` · loss L = ${fmt(view.loss)}`;
    const it = iteration === null ? "" : ` · training iteration ${iteration}`;
    const v = view.verification;
    const ver = v ? (v.ok ? " · every gradient verified against autograd" : ` · ${v.failures} check(s) FAILED`) : " · not verified";
    $("#summary").textContent = `${view.steps.length} steps, captured with ${view.capture}; inputs: ${ins}${loss}${it}${ver}`;
  }

  function renderVerification() {
    const box = $("#verification");
    box.replaceChildren(h("h2", {}, "Verification against torch.autograd"));
    const v = view.verification;
    if (!v) { box.append(h("p", { class: "muted" }, "Not verified (derived with verify=False).")); return; }
    box.append(h("p", { class: v.ok ? "" : "error" }, v.ok ? "Every derived gradient agrees with autograd."
      : `${v.failures} check(s) FAILED: those formulas are not shown as right.`));
    const t = h("table", { class: "rows" }, h("tr", {}, ...["tensor", "shape", "max abs error", "max rel error", "status"].map((x) => h("th", {}, x))));
    for (const r of v.rows) t.append(h("tr", {}, h("td", {}, r.name), h("td", {}, shapeText(r.shape)),
      h("td", {}, fmt(r.abs)), h("td", {}, fmt(r.rel)), h("td", {}, r.ok ? "ok" : "FAILED")));
    box.append(t);
  }

  function color(v, lim) {
    v = num(v);
    if (!Number.isFinite(v)) return "#ffd400";
    const t = lim > 0 ? Math.max(-1, Math.min(1, v / lim)) : 0;
    const a = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
  }

  async function sliceRows(step, kind, tensor, lead) {
    const key = lead.join(",");
    if (tensor.slices[key]) return tensor.slices[key];
    if (!SERVER) return null;
    const r = await fetch(`/api/slice?${query({ step: step.name, tensor: kind, lead: key })}`);
    const body = await r.json();
    if (!r.ok) throw new Error(body.error);
    tensor.slices[key] = body.rows;
    return body.rows;
  }

  function heatBlock(step, kind, tensor) {
    const id = `${step.name}|${kind}`;
    const lead = slices.get(id) || tensor.lead_shape.map(() => 0);
    slices.set(id, lead);
    const block = h("div", { class: "heat-block", "data-tensor": kind });
    const grid = h("div", { class: "heat-grid" });
    const controls = h("div", { class: "heat-controls" }, `shape ${shapeText(tensor.shape)} · range ${fmt(tensor.min)} … ${fmt(tensor.max)}`);
    tensor.lead_shape.forEach((n, d) => {
      controls.append(" · index ", String(d), " ", h("input", { type: "number", min: 0, max: n - 1, value: lead[d],
        "aria-label": `leading index ${d}`, onchange: (ev) => {
          const v = Math.max(0, Math.min(n - 1, parseInt(ev.target.value, 10) || 0));
          lead[d] = v; ev.target.value = v; drawGrid(step, kind, tensor, grid);
        } }), ` of ${n}`);
    });
    if (tensor.rows > tensor.shown_rows || tensor.cols > tensor.shown_cols)
      controls.append(h("span", { class: "muted" }, ` · showing the first ${tensor.shown_rows}×${tensor.shown_cols}`));
    block.append(h("h3", {}, kindTitle(step, kind)), controls, grid);
    drawGrid(step, kind, tensor, grid);
    return block;
  }

  function fullPosition(tensor, lead, r, c) {
    const n = tensor.shape.length;
    return n === 0 ? [] : n === 1 ? [c] : [...lead, r, c];
  }

  async function drawGrid(step, kind, tensor, grid) {
    const lead = slices.get(`${step.name}|${kind}`);
    let rows;
    try { rows = await sliceRows(step, kind, tensor, lead); } catch (e) { grid.replaceChildren(h("p", { class: "error" }, e.message)); return; }
    if (!rows) { grid.replaceChildren(h("p", { class: "muted" }, "This slice is not stored in the file (serve the model to see every slice).")); return; }
    const lim = Math.max(Math.abs(num(tensor.min)) || 0, Math.abs(num(tensor.max)) || 0);
    const t = h("table", { class: "heat" });
    rows.forEach((row, r) => {
      const tr = h("tr");
      row.forEach((v, c) => {
        const pos = fullPosition(tensor, lead, r, c);
        const td = h("td", { title: `[${pos.join(",")}] = ${fmt(v)}`, "data-pos": pos.join(","), style: `background:${color(v, lim)}`,
          onclick: () => showElement(step, kind, pos) });
        if (selected && selected.step === step.name && selected.kind === kind && selected.pos.join(",") === pos.join(",")) td.classList.add("selected");
        tr.append(td);
      });
      t.append(tr);
    });
    grid.replaceChildren(t);
  }

  function showStep(step) {
    document.querySelectorAll("#graph g.node.current").forEach((n) => n.classList.remove("current"));
    const node = document.getElementById(`node-${step.name}`);
    if (node) node.classList.add("current");
    const box = $("#step");
    box.replaceChildren(
      h("h2", {}, `${step.index + 1}. ${step.module_path || step.name} `, h("span", { class: `badge ${step.status}` }, step.op)),
      h("p", { class: "muted" }, `node ${step.name} · ${step.target} · output ${shapeText(step.shape)} · forward ${step.status}`));
    const ops = h("table", { class: "operands" }, h("tr", {}, ...["symbol", "operand", "from", "shape"].map((x) => h("th", {}, x))));
    for (const o of step.operands) ops.append(h("tr", {}, h("td", { html: o.symbol }), h("td", {}, o.key), h("td", {}, o.source), h("td", {}, shapeText(o.shape))));
    box.append(ops, h("h3", {}, "Forward"), h("div", { class: "formula", html: step.forward }));
    box.append(h("h3", {}, "Backward (derived by sympy)"));
    if (!step.gradients.length) box.append(h("p", { class: "muted" }, "No differentiable inputs."));
    for (const g of step.gradients) {
      box.append(h("p", {}, `${g.key}: `, h("span", { class: `badge ${g.status}` }, g.status === "failed" ? "FAILED verification: not shown" : g.status)));
      if (g.mathml) box.append(h("div", { class: "formula", html: g.mathml }));
    }
    if (step.notes.length) {
      box.append(h("h3", {}, "Also computed (not differentiated)"));
      for (const n of step.notes) box.append(h("div", { class: "formula", html: n }));
    }
    box.append(h("p", { class: "hint" }, "Click a cell to see how its number is computed."));
    box.append(heatBlock(step, "forward", step.tensor));
    for (const g of step.gradients) {
      if (g.tensor) box.append(heatBlock(step, g.key, g.tensor));
      else if (g.status !== "failed") box.append(h("p", { class: "muted" }, `∂L/∂${g.key}: no adjoint reaches this step.`));
    }
  }

  async function elementRecord(step, kind, pos) {
    const key = `${step.name}|${kind}|${pos.join(",")}`;
    if (view.elements[key]) return view.elements[key];
    if (!SERVER) return null;
    const params = kind === "forward" ? { step: step.name, position: pos.join(",") } : { step: step.name, name: kind, position: pos.join(",") };
    const r = await fetch(`/api/${kind === "forward" ? "element" : "gradient"}?${query(params)}`);
    const body = await r.json();
    if (!r.ok) return { error: body.error };
    view.elements[key] = body;
    return body;
  }

  function storedValue(step, kind, pos) {
    const t = tensorOf(step, kind);
    if (!t) return undefined;
    const n = pos.length;
    const [lead, r, c] = n === 0 ? [[], 0, 0] : n === 1 ? [[], 0, pos[0]] : [pos.slice(0, n - 2), pos[n - 2], pos[n - 1]];
    const rows = t.slices[lead.join(",")];
    return rows && rows[r] !== undefined ? rows[r][c] : undefined;
  }

  async function showElement(step, kind, pos) {
    const box = $("#element");
    const shape = kind === "forward" ? step.shape : (step.gradients.find((g) => g.key === kind) || {}).shape;
    if (!shape) { box.replaceChildren(h("p", { class: "error" }, `step ${step.name} has no gradient ${kind}; gradients: ${step.gradients.map((g) => g.key).join(", ") || "none"}`)); return; }
    if (pos.length !== shape.length || pos.some((p, i) => !(p >= 0 && p < shape[i]))) {
      box.replaceChildren(h("p", { class: "error" }, `position [${pos.join(",")}] does not fit shape ${shapeText(shape)} (valid ranges: ${ranges(shape)})`));
      return;
    }
    selected = { step: step.name, kind, pos };
    document.querySelectorAll("table.heat td.selected").forEach((td) => td.classList.remove("selected"));
    const block = document.querySelector(`#step .heat-block[data-tensor="${CSS.escape(kind)}"]`);
    const lead = pos.slice(0, Math.max(pos.length - 2, 0));
    const id = `${step.name}|${kind}`;
    if (block && slices.get(id) && slices.get(id).join(",") !== lead.join(",")) {
      slices.set(id, lead);
      block.querySelectorAll(".heat-controls input").forEach((inp, d) => { inp.value = lead[d]; });
      await drawGrid(step, kind, tensorOf(step, kind), block.querySelector(".heat-grid"));
    }
    const cell = block && block.querySelector(`td[data-pos="${pos.join(",")}"]`);
    if (cell) cell.classList.add("selected");
    const head = kind === "forward" ? `${step.name}[${pos.join(",")}]: worked forward derivation` : `∂L/∂${kind}[${pos.join(",")}] in ${step.name}: worked backward derivation`;
    box.replaceChildren(h("h2", {}, head), h("p", { class: "muted" }, "computing…"));
    const rec = await elementRecord(step, kind, pos);
    const hash = `#${step.name}/${kind === "forward" ? "" : kind + "/"}${pos.join(",")}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
    box.replaceChildren(h("h2", {}, head));
    if (rec && rec.error) { box.append(h("p", { class: "error" }, rec.error)); return; }
    if (!rec) {
      const v = storedValue(step, kind, pos);
      box.append(h("p", {}, "value ", h("span", { class: "value", "data-value": v === undefined ? "" : String(v) }, v === undefined ? "not stored" : fmt(v))),
        h("p", { class: "muted" }, "Its worked derivation is not precomputed in this file (to_html(elements=…) sets the budget; `symbolic-torch serve` computes any element)."));
      return;
    }
    for (const line of rec.mathml) box.append(h("div", { class: "formula", html: line }));
    box.append(h("p", {}, "value ", h("span", { class: "value", "data-value": String(rec.value) }, fmt(rec.value)),
      ` · ${rec.terms} term${rec.terms === 1 ? "" : "s"} · ${rec.status}` + (rec.expected === null || rec.expected === undefined ? "" : ` · the run computed ${fmt(rec.expected)}`)));
  }

  function clearElement() {
    $("#element").replaceChildren(h("h2", {}, "Worked element"),
      h("p", { class: "muted" }, "Click a cell of a heat map: its number is derived here, formula, numbers and value."));
  }

  function route() {
    const text = decodeURIComponent(location.hash.slice(1));
    if (!text) { if (view.steps.length) showStep(view.steps[0]); clearElement(); return; }
    const parts = text.split("/");
    const step = findStep(parts[0]);
    if (!step) {
      $("#step").replaceChildren(h("p", { class: "error" }, `no step ${parts[0]}; steps are ${view.steps.map((s) => s.name).join(", ")}`));
      return;
    }
    showStep(step);
    const posText = parts[parts.length - 1];
    if (parts.length < 2 || (posText === "" && parts.length === 2 && step.shape.length)) { clearElement(); return; }
    const pos = posText === "" ? [] : posText.split(",").map((x) => (/^-?\d+$/.test(x.trim()) ? Number(x) : NaN));
    showElement(step, parts.length >= 3 ? parts[1] : "forward", pos);
  }

  function lossChart(losses) {
    const w = 360, hgt = 120, pad = 24;
    const lo = Math.min(...losses), hi = Math.max(...losses), span = hi - lo || 1;
    const pts = losses.map((l, i) => [pad + (losses.length > 1 ? i * (w - 2 * pad) / (losses.length - 1) : 0), hgt - pad - ((l - lo) / span) * (hgt - 2 * pad)]);
    const svg = `<svg width="${w}" height="${hgt}" viewBox="0 0 ${w} ${hgt}" role="img" aria-label="loss per iteration">` +
      `<polyline fill="none" stroke="#2457c5" stroke-width="2" points="${pts.map((p) => p.join(",")).join(" ")}"/>` +
      pts.map((p, i) => `<circle cx="${p[0]}" cy="${p[1]}" r="3" fill="#2457c5"><title>iteration ${i + 1}: ${fmt(losses[i])}</title></circle>`).join("") +
      `<text x="4" y="14" font-size="11">${fmt(hi)}</text><text x="4" y="${hgt - 6}" font-size="11">${fmt(lo)}</text></svg>`;
    return h("div", { html: svg });
  }

  async function loadIteration(k) {
    iteration = k === "" ? null : Number(k);
    const r = await fetch(`/api/view?${query({})}`);
    const body = await r.json();
    if (!r.ok) { $("#train-status").textContent = body.error; return; }
    view = body;
    slices.clear();
    selected = null;
    renderSummary(); renderVerification(); route();
  }

  function setupTraining() {
    const form = $("#train-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      $("#train-status").textContent = "training…";
      const r = await fetch(`/api/train?${new URLSearchParams({ steps: f.get("steps"), lr: f.get("lr"), optimizer: f.get("optimizer") })}`);
      const body = await r.json();
      if (!r.ok) { $("#train-status").textContent = body.error; return; }
      $("#train-status").textContent = `losses (before each update): ${body.losses.map(fmt).join(" → ")}`;
      $("#train-check").textContent = body.verified === null ? "updates not checked against torch.optim"
        : (body.verified ? "every update agrees with torch.optim" : "FAILED: an update disagrees with torch.optim");
      $("#losses").replaceChildren(lossChart(body.history.map((x) => num(x.loss))));
      const sel = $("#iteration");
      sel.replaceChildren(h("option", { value: "" }, "initial"), ...body.history.map((x) => h("option", { value: x.iteration }, `iteration ${x.iteration}: L = ${fmt(x.loss)}`)));
      sel.value = String(body.history[body.history.length - 1].iteration);
      await loadIteration(sel.value);
    });
    $("#iteration").addEventListener("change", (ev) => loadIteration(ev.target.value));
  }

  window.addEventListener("hashchange", route);
  renderSummary();
  renderVerification();
  setupTraining();
  route();
})();
