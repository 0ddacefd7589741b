// imagegen console: a single-page client of the public HTTP API (ADR 0100).
// No framework and no build step. The API key lives in sessionStorage and goes out as a
// bearer token; every page is drawn with DOM calls (textContent, never innerHTML), so nothing
// the API returns is ever parsed as markup.
"use strict";

const KEY_STORE = "imagegen.apiKey";
const ADMIN_STORE = "imagegen.isAdmin";
const STATUSES = ["queued", "processing", "generating", "awaiting_callback", "uploading",
  "completed", "failed", "cancelled"];
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const MEGAPIXEL = 1024 * 1024;
const EVENT_TYPES = ["job.status_changed", "job.completed", "job.failed", "job.cancelled"];

let pageAbort = new AbortController(); // aborted on every navigation: streams, timers
let modelsCache = null;

// ---------- small DOM helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" },
    h("label", { for: id }, label, hint ? h("span", { class: "hint" }, ` ${hint}`) : null), input);
}

function status(value) { return h("span", { class: `status ${value}` }, value); }
function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
function dollars(micros) { return `$${(micros / 1e6).toFixed(4)}`; }
function jobLink(id) { return h("a", { href: `#/jobs/${encodeURIComponent(id)}`, class: "mono" }, id); }

function toast(message) {
  const p = h("p", {}, message);
  document.getElementById("toast").append(p);
  setTimeout(() => p.remove(), 6000);
}

function errorLine(err) { return h("p", { class: "error", role: "alert" }, err.message || String(err)); }

function table(headers, rows, caption) {
  return h("div", { class: "table-wrap" },
    h("table", {}, caption ? h("caption", { class: "hint" }, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.length ? rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))
        : h("tr", {}, h("td", { colspan: headers.length }, "Nothing yet.")))));
}

// ---------- the API ----------

function apiKey() { return sessionStorage.getItem(KEY_STORE); }

class ApiError extends Error {
  constructor(status, body, text) {
    const e = body && body.error;
    let message = `HTTP ${status}`;
    if (e) message = e.field && e.reason ? `${e.field}: ${e.reason}` : (e.message || message);
    else if (text) message = `HTTP ${status}: ${text.slice(0, 200)}`;
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function api(path, { method = "GET", json, form, signal } = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}`, Accept: "application/json" };
  let body;
  if (form) body = form;
  else if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  const res = await fetch(path, { method, headers, body, signal: signal || pageAbort.signal });
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    if (res.status === 401 && path !== "/v1/credits") signOut("Your key was refused; sign in again.");
    throw new ApiError(res.status, data, data ? "" : text);
  }
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// Server-Sent Events over fetch(): EventSource cannot send an Authorization header.
async function streamEvents(path, onEvent, signal) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${apiKey()}`,
    Accept: "text/event-stream" }, signal });
  if (!res.ok || !res.body) throw new ApiError(res.status, null, await res.text());
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { type: "message", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl;
    while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (event.data.length) onEvent({ type: event.type, id: event.id, data: event.data.join("\n") });
        event = { type: "message", data: [], id: null };
        continue;
      }
      if (line.startsWith(":")) continue; // a keep-alive comment
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? "" : line.slice(colon + 1);
      if (val.startsWith(" ")) val = val.slice(1);
      if (name === "event") event.type = val;
      else if (name === "data") event.data.push(val);
      else if (name === "id") event.id = val;
    }
  }
}

async function models() {
  if (!modelsCache) modelsCache = await api("/v1/models");
  return modelsCache;
}

function creditsPerImage(model, size) {
  const m = /^(\d+)x(\d+)$/.exec(size || "");
  if (!m) return null;
  return Number(m[1]) * Number(m[2]) > MEGAPIXEL ? model.creditsPerImageHighRes : model.creditsPerImage;
}

async function imageFigure(ref, jobId, thumb) {
  const meta = await api(`/v1/images/${encodeURIComponent(ref.id)}`);
  const img = h("img", { src: meta.url, alt: `Image ${ref.index + 1} of job ${jobId}`,
    width: meta.width, height: meta.height, loading: thumb ? "lazy" : null, class: "result-image",
    dataset: { imageId: ref.id } });
  return h("figure", {}, h("a", { href: meta.url, target: "_blank", rel: "noopener" }, img),
    h("figcaption", {}, `${meta.width}×${meta.height} · ${(meta.sizeBytes / 1024).toFixed(0)} KiB`));
}

// ---------- sign-in ----------

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  sessionStorage.removeItem(ADMIN_STORE);
  modelsCache = null;
  if (message) toast(message);
  location.hash = "#/signin";
}

async function renderSignIn(main) {
  const input = h("input", { type: "password", id: "api-key", name: "apiKey", autocomplete: "off",
    required: true, placeholder: "ig_..." });
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "panel", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", { class: "hint" }, "Paste an API key (imagegen serve prints one on first run; ",
      h("code", {}, "imagegen keys create --user U"), " makes more). It stays in this tab's session storage."),
    field("API key", input), h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    sessionStorage.setItem(KEY_STORE, input.value.trim());
    try {
      await api("/v1/credits");
    } catch (err) {
      sessionStorage.removeItem(KEY_STORE);
      out.append(errorLine(err.status === 401 ? new Error("That key was not accepted.") : err));
      return;
    }
    let admin = false;
    try { await api("/v1/admin/balances?limit=1"); admin = true; } catch (_) { admin = false; }
    sessionStorage.setItem(ADMIN_STORE, admin ? "1" : "0");
    location.hash = "#/playground";
  });
  main.append(form);
  input.focus();
}

// ---------- playground ----------

async function renderPlayground(main, params) {
  main.append(h("h1", {}, "Playground"));
  const catalog = await models();
  const usable = catalog.items.filter((m) => m.available);
  const balance = await api("/v1/credits");

  const prompt = h("textarea", { id: "prompt", name: "prompt", required: true,
    placeholder: "a lighthouse at dusk, oil painting" });
  const model = h("select", { id: "model", name: "model" }, usable.map((m) => h("option",
    { value: m.id, selected: m.id === catalog.defaultModel }, `${m.id} · ${m.provider} · ` +
    `${m.creditsPerImage} credit${m.creditsPerImage === 1 ? "" : "s"}/image` +
    (m.sizes.length ? "" : " · any size"))));
  const sizeSelect = h("select", { id: "size", name: "size" });
  const sizeWrap = h("div");
  const n = h("input", { id: "n", name: "n", type: "number", min: 1, value: 1, required: true });
  const seed = h("input", { id: "seed", name: "seed", type: "number", placeholder: "random" });
  const image = h("input", { id: "input-image", name: "image", type: "file",
    accept: "image/png,image/jpeg,image/webp" });
  const mask = h("input", { id: "mask-image", name: "mask", type: "file", accept: "image/png" });
  const parent = h("input", { id: "parent-job", name: "parentJobId", value: params.get("parent") || "",
    placeholder: "job_...", autocomplete: "off" });
  const estimate = h("output", { id: "estimate", class: "estimate", for: "model size n", "aria-live": "polite" });
  const modelInfo = h("p", { class: "hint", id: "model-info" });
  const editFields = h("fieldset", { class: "panel" }, h("legend", {}, "Edit (optional)"),
    field("Input image", image, "PNG, JPEG or WebP"), field("Mask", mask, "PNG; transparent = repaint"));
  const submit = h("button", { type: "submit", id: "generate" }, "Generate");
  const formError = h("div", { "aria-live": "assertive" });

  const current = () => usable.find((m) => m.id === model.value);
  function sizeControl() {
    const m = current();
    if (m.sizes.length) {
      sizeSelect.replaceChildren(...m.sizes.map((s) => h("option", { value: s }, s)));
      return sizeSelect;
    }
    const free = h("input", { id: "size", name: "size", value: params.get("size") || "1024x1024",
      pattern: "\\d+x\\d+", list: "size-list", required: true });
    free.addEventListener("input", updateEstimate);
    return free;
  }
  function updateModel() {
    const m = current();
    n.max = m.maxN;
    sizeWrap.replaceChildren(field("Size", sizeControl(), m.sizes.length ? "" : "WIDTHxHEIGHT"),
      h("datalist", { id: "size-list" }, ["256x256", "512x512", "1024x1024", "1536x1024", "1024x1536"]
        .map((s) => h("option", { value: s }))));
    const plural = (k) => `${k} credit${k === 1 ? "" : "s"}`;
    modelInfo.textContent = `${plural(m.creditsPerImage)} per image up to one megapixel, ` +
      `${plural(m.creditsPerImageHighRes)} above; up to ${m.maxN} per request; ` +
      (m.supportsEdit ? "accepts an input image." : "no edits.");
    image.disabled = mask.disabled = !m.supportsEdit;
    updateEstimate();
  }
  function updateEstimate() {
    const m = current();
    const size = document.getElementById("size").value;
    const per = creditsPerImage(m, size);
    const count = Number(n.value);
    if (per === null || !(count >= 1)) { estimate.textContent = "Estimate: —"; return; }
    const total = per * count;
    estimate.textContent = `Estimate: ${total} credit${total === 1 ? "" : "s"} ` +
      `(${balance.available} available)`;
    estimate.dataset.credits = String(total);
  }
  model.addEventListener("change", updateModel);
  sizeSelect.addEventListener("change", updateEstimate);
  n.addEventListener("input", updateEstimate);

  const watch = h("section", { class: "panel", id: "watch", "aria-label": "Current job", hidden: true });
  const form = h("form", { class: "panel", id: "playground-form" },
    field("Prompt", prompt), field("Model", model), modelInfo, sizeWrap,
    h("div", { class: "row" }, field("Images (n)", n), field("Seed", seed, "optional")),
    editFields, field("Parent job", parent, "optional, for a multi-turn edit"),
    h("div", { class: "actions" }, submit, estimate), formError);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formError.replaceChildren();
    submit.disabled = true;
    try {
      const body = { prompt: prompt.value, model: model.value, size: document.getElementById("size").value,
        n: Number(n.value) };
      if (seed.value !== "") body.seed = Number(seed.value);
      if (parent.value.trim()) body.parentJobId = parent.value.trim();
      if (image.files.length) body.inputImageIds = [(await upload("image", image.files[0])).id];
      if (mask.files.length) body.maskImageId = (await upload("mask", mask.files[0])).id;
      const created = await api("/v1/jobs", { method: "POST", json: body });
      balance.available = created.balance.available;
      updateEstimate();
      watchJob(watch, created.id);
    } catch (err) {
      formError.append(errorLine(err));
    } finally {
      submit.disabled = false;
    }
  });
  main.append(h("div", { class: "cols" }, form, watch));
  updateModel();
  if (params.get("job")) watchJob(watch, params.get("job"));
}

async function upload(name, file) {
  const form = new FormData();
  form.append(name, file);
  return api("/v1/uploads", { method: "POST", form });
}

function watchJob(panel, jobId) {
  if (panel.abort) panel.abort.abort();
  const abort = new AbortController();
  panel.abort = abort;
  pageAbort.signal.addEventListener("abort", () => abort.abort());
  const bar = h("progress", { id: "job-progress", max: 100, value: 0, "aria-label": "Job progress" });
  const line = h("p", { id: "progress-text", "aria-live": "polite" }, "Submitted…");
  const previews = h("div", { class: "images", id: "previews", "aria-label": "Previews" });
  const images = h("div", { class: "images", id: "job-images", "aria-label": "Images" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel-job" }, "Cancel");
  const retry = h("button", { type: "button", class: "ghost", id: "retry-job", disabled: true }, "Retry");
  const problems = h("div", { "aria-live": "assertive" });
  const previewTitle = h("h2", { class: "hint", hidden: true }, "Previews");
  panel.hidden = false;
  panel.replaceChildren(h("h2", {}, "Job ", jobLink(jobId)), bar, line,
    h("div", { class: "actions" }, cancel, retry), problems,
    previewTitle, previews, h("h2", {}, "Images"), images);

  let finished = false;
  const shownPreviews = new Set();
  function showPreview(url) {
    if (!url || shownPreviews.has(url)) return;
    shownPreviews.add(url);
    previewTitle.hidden = false;
    previews.append(h("figure", {}, h("img", { src: url, alt: "Preview", class: "preview-image" })));
  }
  async function refresh() {
    const job = await api(`/v1/jobs/${encodeURIComponent(jobId)}`, { signal: abort.signal });
    bar.value = job.progress.percent;
    const step = job.progress.step && job.progress.step !== job.status ? job.progress.step : null;
    const parts = [`${job.progress.percent} %`, step].filter(Boolean);
    if (job.status === "queued") parts.push(`queue position ${job.queuePosition}`);
    if (job.etaSeconds !== null && job.etaSeconds !== undefined && !TERMINAL.has(job.status))
      parts.push(`ETA ${job.etaSeconds} s`);
    line.replaceChildren(status(job.status), ` ${parts.join(" · ")}`);
    if (job.previewUrl) showPreview(job.previewUrl);
    cancel.disabled = TERMINAL.has(job.status);
    retry.disabled = !(job.status === "failed" || job.status === "cancelled");
    if (job.error) problems.replaceChildren(h("p", { class: "error" },
      `${job.error.errorClass}${job.error.stage ? ` at ${job.error.stage}` : ""}: ${job.error.message}`));
    if (TERMINAL.has(job.status) && !finished) {
      finished = true;
      images.replaceChildren(...await Promise.all(job.images.map((ref) => imageFigure(ref, jobId, false))));
      panel.dataset.status = job.status;
    }
    return job;
  }
  cancel.addEventListener("click", async () => {
    try { await api(`/v1/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST" }); await refresh(); }
    catch (err) { problems.replaceChildren(errorLine(err)); }
  });
  retry.addEventListener("click", async () => {
    try {
      const again = await api(`/v1/jobs/${encodeURIComponent(jobId)}/retry`, { method: "POST" });
      watchJob(panel, again.id);
    } catch (err) { problems.replaceChildren(errorLine(err)); }
  });

  (async () => {
    let pending = Promise.resolve();
    try {
      await streamEvents(`/v1/jobs/${encodeURIComponent(jobId)}/events`, (msg) => {
        const data = JSON.parse(msg.data);
        if (msg.type === "preview") { showPreview(data.previewUrl); return; }
        bar.value = data.progressPercent;
        pending = pending.then(refresh).catch(() => {}); // queue position and ETA are on the job
      }, abort.signal);
      await pending;
    } catch (err) {
      if (abort.signal.aborted) return;
    }
    // The stream ended (or broke): poll until the job is finished.
    while (!finished && !abort.signal.aborted) {
      try { await refresh(); } catch (_) { /* retried below */ }
      if (!finished) await new Promise((r) => setTimeout(r, 1000));
    }
  })();
}

// ---------- jobs ----------

async function renderJobs(main, params) {
  main.append(h("h1", {}, "Jobs"));
  const filter = h("select", { id: "status-filter", name: "status" },
    h("option", { value: "" }, "any status"), STATUSES.map((s) => h("option",
      { value: s, selected: params.get("status") === s }, s)));
  filter.addEventListener("change", () => { location.hash = `#/jobs${query({ status: filter.value })}`; });
  main.append(h("div", { class: "panel" }, field("Status", filter)));
  const list = h("div", { class: "panel", id: "jobs-list" });
  main.append(list);
  const cursors = [null];
  async function load(cursor) {
    list.replaceChildren(h("p", {}, "Loading…"));
    const page = await api(`/v1/jobs${query({ status: params.get("status"), limit: 20, cursor })}`);
    const rows = page.items.map((j) => [jobLink(j.id), status(j.status), j.model,
      j.prompt.length > 60 ? `${j.prompt.slice(0, 60)}…` : j.prompt, when(j.timestamps.createdAt),
      j.chargedCredits ?? `(${j.estimatedCredits})`]);
    const prev = h("button", { type: "button", class: "ghost", disabled: cursors.length < 2 }, "Previous");
    const next = h("button", { type: "button", class: "ghost", disabled: !page.nextCursor }, "Next");
    prev.addEventListener("click", () => { cursors.pop(); load(cursors[cursors.length - 1]); });
    next.addEventListener("click", () => { cursors.push(page.nextCursor); load(page.nextCursor); });
    list.replaceChildren(table(["Job", "Status", "Model", "Prompt", "Created", "Credits"], rows,
      "Credits: charged, or (estimated) while unfinished"), h("div", { class: "actions" }, prev, next));
  }
  await load(null);
}

async function renderJob(main, _params, jobId) {
  const job = await api(`/v1/jobs/${encodeURIComponent(jobId)}`);
  main.append(h("h1", {}, "Job ", h("span", { class: "mono" }, job.id), " ", status(job.status)));
  const err = job.error;
  const facts = [["Model", job.model], ["Provider", job.provider], ["Kind", job.kind],
    ["Prompt", job.prompt], ["Size", job.size], ["Images", job.n], ["Seed", job.seed ?? "random"],
    ["Progress", `${job.progress.percent} % ${job.progress.step}`], ["Attempts", job.attempts],
    ["Credits estimated", job.estimatedCredits], ["Credits charged", job.chargedCredits ?? "—"],
    ["Provider cost", dollars(job.providerCostMicros)],
    ["Failure class", err ? err.errorClass : "—"], ["Failure stage", err && err.stage ? err.stage : "—"],
    ["Failure message", err ? err.message : "—"],
    ["Parent job", job.parentJobId ? jobLink(job.parentJobId) : "—"],
    ["Retry of", job.retryOfJobId ? jobLink(job.retryOfJobId) : "—"]];
  const dl = h("dl", { class: "facts", id: "job-facts" },
    facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  const timeline = h("ol", { class: "timeline", id: "job-timeline" }, (job.timeline || []).map((t) =>
    h("li", {}, status(t.status), " ", h("time", { datetime: t.at }, when(t.at)))));
  const actions = h("div", { class: "actions" });
  const problems = h("div", { "aria-live": "assertive" });
  if (!TERMINAL.has(job.status)) {
    actions.append(h("a", { href: `#/playground${query({ job: job.id })}` }, "Watch live"));
    const cancel = h("button", { type: "button", class: "danger" }, "Cancel");
    cancel.addEventListener("click", async () => {
      try { await api(`/v1/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST" }); route(); }
      catch (e) { problems.replaceChildren(errorLine(e)); }
    });
    actions.append(cancel);
  }
  if (job.status === "failed" || job.status === "cancelled") {
    const retry = h("button", { type: "button" }, "Retry");
    retry.addEventListener("click", async () => {
      try {
        const again = await api(`/v1/jobs/${encodeURIComponent(job.id)}/retry`, { method: "POST" });
        location.hash = `#/playground${query({ job: again.id })}`;
      } catch (e) { problems.replaceChildren(errorLine(e)); }
    });
    actions.append(retry);
  }
  if (job.status === "completed") {
    actions.append(h("a", { href: `#/playground${query({ parent: job.id })}` }, "Edit further (as parent)"));
  }
  const images = h("div", { class: "images", id: "job-images" },
    await Promise.all(job.images.map((ref) => imageFigure(ref, job.id, false))));
  main.append(h("div", { class: "cols" },
    h("section", { class: "panel", "aria-label": "Details" }, dl, actions, problems),
    h("section", { class: "panel", "aria-label": "Timeline" }, h("h2", {}, "Timeline"), timeline,
      h("h2", {}, "Images"), job.images.length ? images : h("p", { class: "hint" }, "No images."))));
}

// ---------- gallery ----------

async function renderGallery(main) {
  main.append(h("h1", {}, "Gallery"));
  const grid = h("div", { class: "images gallery", id: "gallery" });
  const more = h("button", { type: "button", class: "ghost" }, "Load more");
  main.append(h("section", { class: "panel" }, grid, h("div", { class: "actions" }, more)));
  let cursor = null;
  async function load() {
    more.disabled = true;
    const page = await api(`/v1/jobs${query({ status: "completed", limit: 12, cursor })}`);
    for (const summary of page.items) {
      const job = await api(`/v1/jobs/${encodeURIComponent(summary.id)}`);
      for (const ref of job.images) {
        const fig = await imageFigure(ref, job.id, true);
        fig.querySelector("figcaption").append(" · ", jobLink(job.id));
        grid.append(fig);
      }
    }
    cursor = page.nextCursor;
    more.disabled = !cursor;
    if (!grid.children.length) grid.append(h("p", { class: "hint" }, "No images yet."));
  }
  more.addEventListener("click", load);
  await load();
}

// ---------- credits ----------

async function renderCredits(main) {
  main.append(h("h1", {}, "Credits"));
  const b = await api("/v1/credits");
  main.append(h("div", { class: "cards", id: "balance" },
    [["Available", b.available], ["Reserved", b.reserved], ["Spent (lifetime)", b.lifetimeSpent]]
      .map(([label, value]) => h("div", { class: "card" }, h("div", { class: "value" }, value),
        h("div", { class: "label" }, label)))));
  const list = h("section", { class: "panel", id: "ledger" });
  main.append(h("h2", {}, "Ledger history"), list);
  const starts = [0];
  async function load(after) {
    const page = await api(`/v1/credits/events${query({ afterVersion: after, limit: 20 })}`);
    const rows = page.items.map((e) => [e.version, e.type.replaceAll("_", " "), e.amount,
      e.jobId ? jobLink(e.jobId) : "—", e.released ? `${e.released} released` : (e.reason || ""),
      when(e.occurredAt)]);
    const prev = h("button", { type: "button", class: "ghost", disabled: starts.length < 2 }, "Previous");
    const next = h("button", { type: "button", class: "ghost", disabled: !page.nextAfterVersion }, "Next");
    prev.addEventListener("click", () => { starts.pop(); load(starts[starts.length - 1]); });
    next.addEventListener("click", () => { starts.push(page.nextAfterVersion); load(page.nextAfterVersion); });
    list.replaceChildren(table(["#", "Event", "Credits", "Job", "Note", "At"], rows, "Oldest first"),
      h("div", { class: "actions" }, prev, next));
  }
  await load(0);
}

// ---------- stats ----------

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

function barChart(title, points, format, alt) {
  const width = 560, rowH = 30, left = 170, height = Math.max(1, points.length) * rowH + 10;
  const max = Math.max(1, ...points.map((p) => p.value));
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": title }, s("title", {}, title));
  points.forEach((p, i) => {
    const y = 5 + i * rowH;
    const w = Math.max(1, (p.value / max) * (width - left - 90));
    svg.append(s("text", { x: left - 6, y: y + 19, "text-anchor": "end" }, p.label),
      s("rect", { class: alt ? "bar alt" : "bar", x: left, y: y + 3, width: w, height: rowH - 8, rx: 3 },
        s("title", {}, `${p.label}: ${format(p.value)}`)),
      s("text", { x: left + w + 6, y: y + 19 }, format(p.value)));
  });
  if (!points.length) svg.append(s("text", { x: 10, y: 20 }, "No data in this window."));
  return h("figure", { class: "panel" }, h("figcaption", {}, h("strong", {}, title)), svg);
}

function columnChart(title, points, format, alt) {
  const width = 560, height = 220, bottom = 30, top = 22;
  const max = Math.max(1, ...points.map((p) => p.value));
  const slot = Math.min(48, (width - 20) / Math.max(1, points.length));
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": title }, s("title", {}, title),
    s("line", { class: "axis", x1: 10, x2: width - 10, y1: height - bottom, y2: height - bottom }));
  points.forEach((p, i) => {
    const hgt = Math.max(1, (p.value / max) * (height - bottom - top));
    const x = 10 + i * slot;
    svg.append(s("rect", { class: alt ? "bar alt" : "bar", x: x + slot * 0.15, y: height - bottom - hgt,
      width: slot * 0.7, height: hgt, rx: 2 }, s("title", {}, `${p.label}: ${format(p.value)}`)));
    if (points.length <= 10 || i % Math.ceil(points.length / 8) === 0)
      svg.append(s("text", { x: x + slot / 2, y: height - bottom + 18, "text-anchor": "middle" },
        p.label.slice(5)));
  });
  svg.append(s("text", { x: 12, y: 14 }, `max ${format(max)}`));
  if (!points.length) svg.append(s("text", { x: 20, y: 60 }, "No data in this window."));
  return h("figure", { class: "panel" }, h("figcaption", {}, h("strong", {}, title)), svg);
}

async function renderStats(main, params) {
  main.append(h("h1", {}, "Stats"));
  const days = h("select", { id: "stats-days", name: "days" }, [7, 30, 90, 365].map((d) =>
    h("option", { value: d, selected: String(d) === (params.get("days") || "30") }, `${d} days`)));
  const everyone = h("input", { type: "checkbox", id: "stats-all", checked: params.get("all") === "true" });
  const controls = h("div", { class: "panel row" }, field("Window", days));
  if (sessionStorage.getItem(ADMIN_STORE) === "1")
    controls.append(h("div", { class: "field" }, h("label", { for: "stats-all" }, everyone, " every user")));
  const go = () => { location.hash = `#/stats${query({ days: days.value, all: everyone.checked ? "true" : "" })}`; };
  days.addEventListener("change", go);
  everyone.addEventListener("change", go);
  main.append(controls);
  const r = await api(`/v1/stats${query({ days: days.value, all: everyone.checked ? "true" : "" })}`);
  const completed = r.byModel.reduce((a, m) => a + m.completed, 0);
  const failed = r.byModel.reduce((a, m) => a + m.failed, 0);
  const credits = r.byModel.reduce((a, m) => a + m.creditsSpent, 0);
  const cost = r.byModel.reduce((a, m) => a + m.providerCostMicros, 0);
  const rate = completed + failed ? `${((completed / (completed + failed)) * 100).toFixed(1)} %` : "—";
  main.append(h("div", { class: "cards", id: "stats-summary" },
    [["Success rate", rate], ["Completed", completed], ["Failed", failed], ["Credits spent", credits],
      ["Provider cost", dollars(cost)]].map(([label, value]) => h("div", { class: "card" },
      h("div", { class: "value" }, value), h("div", { class: "label" }, label)))));
  main.append(h("h2", {}, "By model"), h("div", { class: "panel" }, table(
    ["Model", "Completed", "Failed", "Cancelled", "Success", "p50", "p95", "Credits", "Cost"],
    r.byModel.map((m) => [m.model, m.completed, m.failed, m.cancelled,
      m.successRate === null ? "—" : `${(m.successRate * 100).toFixed(1)} %`,
      m.p50Ms === null ? "—" : `${m.p50Ms} ms`, m.p95Ms === null ? "—" : `${m.p95Ms} ms`,
      m.creditsSpent, dollars(m.providerCostMicros)]))));
  const byDay = new Map();
  for (const row of r.byDay) {
    const d = byDay.get(row.day) || { credits: 0, cost: 0 };
    d.credits += row.creditsSpent;
    d.cost += row.providerCostMicros;
    byDay.set(row.day, d);
  }
  const dayList = [...byDay.keys()].sort();
  main.append(h("div", { class: "charts", id: "stats-charts" },
    barChart("Credits by model", r.byModel.map((m) => ({ label: m.model, value: m.creditsSpent })), String),
    barChart("Provider cost by model", r.byModel.map((m) => ({ label: m.model, value: m.providerCostMicros })),
      dollars, true),
    columnChart("Credits by day", dayList.map((d) => ({ label: d, value: byDay.get(d).credits })), String),
    columnChart("Provider cost by day", dayList.map((d) => ({ label: d, value: byDay.get(d).cost })),
      dollars, true)));
}

// ---------- webhooks ----------

async function renderWebhooks(main) {
  main.append(h("h1", {}, "Webhooks"));
  const url = h("input", { id: "webhook-url", name: "url", type: "url", required: true,
    placeholder: "https://hooks.example.com/imagegen" });
  const description = h("input", { id: "webhook-description", name: "description" });
  const boxes = EVENT_TYPES.map((t) => h("input", { type: "checkbox", value: t, id: `evt-${t}`, checked: true }));
  const created = h("div", { "aria-live": "polite", id: "webhook-created" });
  const form = h("form", { class: "panel" }, h("h2", {}, "Add an endpoint"), field("URL", url),
    field("Description", description, "optional"),
    h("fieldset", {}, h("legend", {}, "Events"), boxes.map((b) =>
      h("label", { for: b.id, class: "hint" }, b, ` ${b.value} `))),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add endpoint")), created);
  const endpoints = h("section", { class: "panel", id: "webhook-endpoints" });
  const deliveries = h("section", { class: "panel", id: "webhook-deliveries" });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    created.replaceChildren();
    try {
      const e = await api("/v1/webhooks/endpoints", { method: "POST", json: { url: url.value,
        description: description.value, eventTypes: boxes.filter((b) => b.checked).map((b) => b.value) } });
      created.append(h("p", {}, "Signing secret: copy it now, it is not shown again."),
        h("p", { class: "secret", id: "webhook-secret" }, e.secret));
      form.reset();
      await loadEndpoints();
    } catch (err) { created.append(errorLine(err)); }
  });
  async function loadEndpoints() {
    const list = await api("/v1/webhooks/endpoints");
    endpoints.replaceChildren(h("h2", {}, "Endpoints"), table(["URL", "Events", "Description", "Created", ""],
      list.items.map((e) => {
        const del = h("button", { type: "button", class: "danger", "aria-label": `Delete ${e.url}` }, "Delete");
        del.addEventListener("click", async () => {
          if (!confirm(`Delete the endpoint ${e.url}?`)) return;
          try { await api(`/v1/webhooks/endpoints/${encodeURIComponent(e.id)}`, { method: "DELETE" }); }
          catch (err) { toast(err.message); }
          await loadEndpoints();
        });
        return [h("span", { class: "mono" }, e.url), e.eventTypes.join(", "), e.description,
          when(e.createdAt), del];
      })));
  }
  async function loadDeliveries() {
    const list = await api("/v1/webhooks/deliveries?limit=50");
    const detail = h("div", { id: "delivery-attempts" });
    deliveries.replaceChildren(h("h2", {}, "Deliveries"), table(
      ["Delivery", "Event", "Status", "Attempts", "Last answer", "Created", ""],
      list.items.map((d) => {
        const show = h("button", { type: "button", class: "ghost" }, "Attempts");
        show.addEventListener("click", async () => {
          try {
            const a = await api(`/v1/webhooks/deliveries/${encodeURIComponent(d.id)}/attempts`);
            detail.replaceChildren(h("h2", {}, "Attempts of ", h("span", { class: "mono" }, d.id)),
              table(["#", "At", "HTTP", "Error", "Took", "OK"], a.items.map((t) => [t.number,
                when(t.attemptedAt), t.statusCode ?? "—", t.error || "", `${t.durationMs} ms`,
                t.succeeded ? "yes" : "no"])));
            detail.focus();
          } catch (err) { detail.replaceChildren(errorLine(err)); }
        });
        return [h("span", { class: "mono" }, d.id), d.eventType, status(d.status), d.attempts,
          d.lastStatusCode ?? (d.lastError || "—"), when(d.createdAt), show];
      })), detail);
    detail.tabIndex = -1;
  }
  main.append(h("div", { class: "cols" }, form, endpoints), deliveries);
  await Promise.all([loadEndpoints(), loadDeliveries()]);
}

// ---------- admin ----------

function resultBox() { return h("div", { "aria-live": "polite" }); }

async function renderAdmin(main) {
  main.append(h("h1", {}, "Admin"));
  if (sessionStorage.getItem(ADMIN_STORE) !== "1") {
    main.append(h("p", { class: "panel" }, "This key is not an admin key: the admin routes answer 403."));
    return;
  }
  // balances
  const balances = h("section", { class: "panel", id: "admin-balances" });
  const cursors = [null];
  async function loadBalances(cursor) {
    const page = await api(`/v1/admin/balances${query({ limit: 20, cursor })}`);
    const prev = h("button", { type: "button", class: "ghost", disabled: cursors.length < 2 }, "Previous");
    const next = h("button", { type: "button", class: "ghost", disabled: !page.nextCursor }, "Next");
    prev.addEventListener("click", () => { cursors.pop(); loadBalances(cursors[cursors.length - 1]); });
    next.addEventListener("click", () => { cursors.push(page.nextCursor); loadBalances(page.nextCursor); });
    balances.replaceChildren(h("h2", {}, "Balances"), table(["User", "Available", "Reserved", "Spent"],
      page.items.map((b) => [h("span", { class: "mono" }, b.userId), b.available, b.reserved, b.lifetimeSpent])),
    h("div", { class: "actions" }, prev, next));
  }
  // grant
  const gUser = h("input", { id: "grant-user", required: true, autocomplete: "off" });
  const gAmount = h("input", { id: "grant-amount", type: "number", required: true });
  const gOut = resultBox();
  const grant = h("form", { class: "panel" }, h("h2", {}, "Grant credits"),
    h("div", { class: "row" }, field("User id", gUser), field("Amount", gAmount)),
    h("button", { type: "submit" }, "Grant"), gOut);
  grant.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    gOut.replaceChildren();
    try {
      const b = await api("/v1/admin/credits/grant", { method: "POST",
        json: { userId: gUser.value, amount: Number(gAmount.value) } });
      gOut.append(h("p", {}, `${gUser.value} now has ${b.available} available.`));
      await loadBalances(null);
    } catch (err) { gOut.append(errorLine(err)); }
  });
  // plan
  const pUser = h("input", { id: "plan-user", required: true, autocomplete: "off" });
  const pPlan = h("select", { id: "plan-plan" }, ["free", "pro", "enterprise"].map((p) => h("option", { value: p }, p)));
  const pOut = resultBox();
  const plan = h("form", { class: "panel" }, h("h2", {}, "Set a plan"),
    h("div", { class: "row" }, field("User id", pUser), field("Plan", pPlan)),
    h("button", { type: "submit" }, "Set plan"), pOut);
  plan.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    pOut.replaceChildren();
    try {
      const u = await api(`/v1/admin/users/${encodeURIComponent(pUser.value)}/plan`, { method: "PUT",
        json: { plan: pPlan.value } });
      pOut.append(h("p", {}, `${u.id} is on ${u.plan}.`));
    } catch (err) { pOut.append(errorLine(err)); }
  });
  // keys
  const kUser = h("input", { id: "keys-user", required: true, autocomplete: "off" });
  const kAdmin = h("input", { type: "checkbox", id: "keys-admin" });
  const kList = h("div", { id: "keys-list" });
  const kOut = resultBox();
  const keys = h("form", { class: "panel" }, h("h2", {}, "API keys"), field("User id", kUser),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "List keys"),
      h("button", { type: "button", class: "ghost", id: "keys-create" }, "Create a key"),
      h("label", { for: "keys-admin", class: "hint" }, kAdmin, " admin")), kOut, kList);
  function showSecret(result) {
    const secret = result && (result.secret || result.key || result.apiKey);
    if (secret) kOut.replaceChildren(h("p", {}, "New key: copy it now, it is not shown again."),
      h("p", { class: "secret" }, secret));
  }
  async function loadKeys() {
    kList.replaceChildren();
    try {
      const res = await api(`/v1/admin/keys${query({ userId: kUser.value })}`);
      const items = Array.isArray(res) ? res : (res.items || []);
      kList.append(table(["Key", "Prefix", "State", "Created", "Last used", "Expires", ""],
        items.map((item) => {
          const id = item.id || item.keyId;
          const revoke = h("button", { type: "button", class: "danger", "aria-label": `Revoke ${id}`,
            disabled: item.state && item.state !== "active" }, "Revoke");
          const rotate = h("button", { type: "button", class: "ghost", "aria-label": `Rotate ${id}`,
            disabled: item.state && item.state !== "active" }, "Rotate");
          revoke.addEventListener("click", async () => {
            try { await api(`/v1/admin/keys/${encodeURIComponent(id)}/revoke`, { method: "POST" }); await loadKeys(); }
            catch (err) { kOut.replaceChildren(errorLine(err)); }
          });
          rotate.addEventListener("click", async () => {
            try { showSecret(await api(`/v1/admin/keys/${encodeURIComponent(id)}/rotate`, { method: "POST" })); await loadKeys(); }
            catch (err) { kOut.replaceChildren(errorLine(err)); }
          });
          return [h("span", { class: "mono" }, id), item.prefix || "—",
            item.state ? status(item.state) : (item.revokedAt ? "revoked" : "—"), when(item.createdAt),
            when(item.lastUsedAt), when(item.expiresAt), h("div", { class: "actions" }, revoke, rotate)];
        })));
    } catch (err) {
      const missing = err.status === 404 && err.body && err.body.error && err.body.error.type !== "not_found";
      kList.append(errorLine(missing ? new Error("This server has no key routes yet " +
        "(GET /v1/admin/keys answered 404).") : err));
    }
  }
  keys.addEventListener("submit", (ev) => { ev.preventDefault(); kOut.replaceChildren(); loadKeys(); });
  keys.querySelector("#keys-create").addEventListener("click", async () => {
    kOut.replaceChildren();
    if (!kUser.value) { kOut.append(errorLine(new Error("userId: required"))); return; }
    try {
      showSecret(await api("/v1/admin/keys", { method: "POST",
        json: kAdmin.checked ? { userId: kUser.value, admin: true } : { userId: kUser.value } }));
      await loadKeys();
    } catch (err) { kOut.append(errorLine(err)); }
  });
  main.append(h("div", { class: "cols" }, grant, plan), keys, balances);
  await loadBalances(null);
}

// ---------- router ----------

const ROUTES = { playground: renderPlayground, jobs: renderJobs, gallery: renderGallery,
  credits: renderCredits, stats: renderStats, webhooks: renderWebhooks, admin: renderAdmin };

async function route() {
  pageAbort.abort();
  pageAbort = new AbortController();
  const [path, search] = (location.hash.slice(1) || "/playground").split("?");
  const parts = path.split("/").filter(Boolean);
  const params = new URLSearchParams(search || "");
  const main = document.getElementById("main");
  const signedIn = Boolean(apiKey());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  document.getElementById("nav-admin").hidden = sessionStorage.getItem(ADMIN_STORE) !== "1";
  main.replaceChildren();
  delete main.dataset.ready;
  delete main.dataset.failed;
  const name = signedIn ? (parts[0] || "playground") : "signin";
  for (const a of document.querySelectorAll("#nav a"))
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · imagegen console`;
  try {
    if (name === "signin") await renderSignIn(main);
    else if (name === "jobs" && parts[1]) await renderJob(main, params, decodeURIComponent(parts[1]));
    else await (ROUTES[name] || renderPlayground)(main, params);
    main.dataset.ready = name === "jobs" && parts[1] ? "job" : name;
  } catch (err) {
    if (err.name === "AbortError") return;
    main.append(errorLine(err));
    main.dataset.failed = "true";
    main.dataset.ready = name;
  }
  if (name !== "signin" && name !== "playground") main.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
  window.addEventListener("hashchange", route);
  route();
});
