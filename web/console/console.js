// sse-broker live console. Plain browser JavaScript served as is by the broker: no framework, no bundler,
// no CDN (the page's Content-Security-Policy allows only its own origin). It polls `api/stats` (counts
// only), draws the chart itself, watches selectors through the ordinary `/events` route and publishes
// through the ordinary `/publish` route, so it can do nothing its user could not do with curl.

const POLL_MS = 1000;
/** Samples kept for the chart: two minutes at one a second. */
const SAMPLES = 120;
/** The chart's narrowest window, in samples: it widens as samples come, up to SAMPLES. */
const MIN_WINDOW = 30;
/** Events kept in the watch list. */
const MAX_WATCHED = 200;
/** A watch stream whose unparsed text grows past this without a line end is cut (bounded memory). */
const MAX_LINE_CHARS = 2 * 1024 * 1024;
const RECONNECT_MS = 2000;

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en");

/** { events, deliveries, connections, drops } per second, oldest first. */
const samples = [];
let previous = null;

function setStatus(state, text) {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
}

function rate(now, before, key, seconds) {
  const d = now.totals[key] - before.totals[key];
  return d >= 0 ? d / seconds : 0; // a restarted broker starts its counters again
}

function show(s) {
  $("connections").textContent = fmt.format(s.connections);
  $("clients").textContent = fmt.format(s.clients);
  $("events-total").textContent = fmt.format(s.totals.eventsPublished);
  $("dropped-slow").textContent = fmt.format(s.totals.droppedSlow);
  $("dropped-slow").dataset.nonzero = s.totals.droppedSlow > 0 ? "1" : "0";
  $("history").textContent = fmt.format(s.history.events); // events kept for Last-Event-ID resume
  $("history-bytes").textContent = bytes(s.history.bytes);
  $("uptime").textContent = duration(s.uptimeSeconds);
  showTopics(s);
  // Another process answered (a --workers cluster): its counters are its own, so start again from it.
  if (previous !== null && previous.node !== s.node) previous = null;
  $("node").textContent = s.node;
  if (previous !== null && s.time > previous.time) {
    const seconds = (s.time - previous.time) / 1000;
    const sample = {
      events: rate(s, previous, "eventsPublished", seconds),
      deliveries: rate(s, previous, "eventsDelivered", seconds),
      connections: s.connections,
      drops: Math.max(0, s.totals.droppedSlow - previous.totals.droppedSlow),
    };
    samples.push(sample);
    if (samples.length > SAMPLES) samples.shift();
    $("events-rate").textContent = fmt.format(Math.round(sample.events));
    $("deliveries-rate").textContent = fmt.format(Math.round(sample.deliveries));
    draw();
  }
  if (previous === null || s.time > previous.time) previous = s;
}

function showTopics(s) {
  const body = $("topics").tBodies[0];
  const rows = s.top.map((t) => {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.className = "selector";
    name.textContent = t.selector; // chosen by clients: text, never HTML
    const count = document.createElement("td");
    count.className = "num";
    count.textContent = fmt.format(t.count);
    const action = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = "watch";
    button.addEventListener("click", () => {
      $("watch-selector").value = t.selector;
      startWatch([t.selector]);
    });
    action.append(button);
    tr.append(name, count, action);
    return tr;
  });
  body.replaceChildren(...rows);
  $("topics-empty").hidden = rows.length > 0;
  $("selectors-note").textContent =
    s.selectors > s.top.length ? `(top ${s.top.length} of ${fmt.format(s.selectors)})` : `(${s.selectors})`;
}

async function poll() {
  try {
    const res = await fetch("api/stats", { cache: "no-store" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    show(await res.json());
    setStatus("live", "live");
  } catch (err) {
    setStatus("error", `stats unavailable (${err.message})`);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// ---- chart --------------------------------------------------------------------------------------------
// Drawn by hand on a canvas: a chart library would need a CDN or a bundler, and the console ships as
// plain files with no build step. Three bands share the time axis, each with its own scale (events/s,
// deliveries/s and connections differ by orders of magnitude); slow-client drops are red marks.

const SERIES = [
  { key: "events", label: "events/s", color: "--events" },
  { key: "deliveries", label: "deliveries/s", color: "--deliveries" },
  { key: "connections", label: "connections", color: "--connections" },
];

/** 0, 1, 2, 5, 10, 20, 50, … : the smallest such value at least `v`. */
function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function draw() {
  const canvas = $("chart");
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim() || "#888";
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = Math.round((width * 270) / 960);
  if (canvas.width !== Math.round(width * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const left = 8;
  const right = width - 8;
  const gap = 10;
  const band = (height - gap * (SERIES.length - 1)) / SERIES.length;
  const step = (right - left) / (Math.max(MIN_WINDOW, samples.length) - 1);
  const x = (i) => right - (samples.length - 1 - i) * step;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "top";
  SERIES.forEach((serie, n) => {
    const top = n * (band + gap);
    const bottom = top + band;
    const values = samples.map((s) => s[serie.key]);
    const max = niceMax(Math.max(0, ...values));
    canvas.dataset[`max${serie.key[0].toUpperCase()}${serie.key.slice(1)}`] = String(Math.max(0, ...values));
    const y = (v) => bottom - (v / max) * (band - 18);
    ctx.strokeStyle = color("--line");
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(left, bottom + 0.5);
    ctx.lineTo(right, bottom + 0.5);
    ctx.stroke();
    const c = color(serie.color);
    if (values.length > 0) {
      ctx.beginPath();
      values.forEach((v, i) => {
        if (i === 0) ctx.moveTo(x(i), y(v));
        else ctx.lineTo(x(i), y(v));
      });
      ctx.strokeStyle = c;
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.lineTo(x(values.length - 1), bottom);
      ctx.lineTo(x(0), bottom);
      ctx.closePath();
      ctx.globalAlpha = 0.12;
      ctx.fillStyle = c;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
    const current = values.length > 0 ? values[values.length - 1] : 0;
    ctx.fillStyle = c;
    ctx.fillText(`${serie.label} ${fmt.format(Math.round(current))}`, left + 2, top + 2);
    ctx.fillStyle = color("--muted");
    ctx.textAlign = "right";
    ctx.fillText(`max ${fmt.format(max)}`, right - 2, top + 2);
    ctx.textAlign = "left";
  });
  ctx.strokeStyle = color("--bad");
  ctx.lineWidth = 2;
  samples.forEach((s, i) => {
    if (s.drops === 0) return;
    ctx.beginPath();
    ctx.moveTo(x(i), 0);
    ctx.lineTo(x(i), height);
    ctx.stroke();
  });
  canvas.dataset.samples = String(samples.length);
  const drops = samples.reduce((sum, s) => sum + s.drops, 0);
  const span = Math.max(MIN_WINDOW, samples.length);
  $("chart-note").textContent =
    `(last ${span} s, one sample a second${drops > 0 ? `; red: ${drops} slow-client drops` : ""})`;
}

// ---- watch --------------------------------------------------------------------------------------------
// Read with fetch and a small SSE parser rather than EventSource: EventSource hands over only the event
// types it was told in advance, and the console shows every event, whatever its type.

let watching = null;
let watchedCount = 0;

function setWatch(text, bad = false) {
  const el = $("watch-state");
  el.textContent = text;
  el.classList.toggle("bad", bad);
}

/** Feeds text chunks; calls `onEvent({ id, type, data })` per event (lines end in CR, LF or CRLF). */
function sseParser(onEvent) {
  let buffer = "";
  let heldCR = false;
  let data = [];
  let type = "";
  let lastId = "";
  const line = (l) => {
    if (l === "") {
      if (data.length > 0) onEvent({ id: lastId, type: type || "message", data: data.join("\n") });
      data = [];
      type = "";
      return;
    }
    if (l.startsWith(":")) return; // a comment: the broker's heartbeat
    const colon = l.indexOf(":");
    const field = colon === -1 ? l : l.slice(0, colon);
    let value = colon === -1 ? "" : l.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") type = value;
    else if (field === "id" && !value.includes("\0")) lastId = value;
  };
  return (chunk) => {
    let text = (heldCR ? "\r" : "") + chunk;
    heldCR = text.endsWith("\r"); // maybe the first half of a CRLF
    if (heldCR) text = text.slice(0, -1);
    buffer += text.replace(/\r\n?/g, "\n");
    let start = 0;
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n", start)) {
      line(buffer.slice(start, nl));
      start = nl + 1;
    }
    buffer = buffer.slice(start);
    if (buffer.length > MAX_LINE_CHARS) throw new Error("a line longer than 2 MiB");
    return lastId;
  };
}

function addEvent(ev) {
  watchedCount++;
  const li = document.createElement("li");
  const meta = document.createElement("div");
  meta.className = "meta";
  for (const text of [new Date().toLocaleTimeString(), `type ${ev.type}`, ev.id ? `id ${ev.id}` : "no id"]) {
    const span = document.createElement("span");
    span.textContent = text;
    meta.append(span);
  }
  const data = document.createElement("code");
  data.className = "data";
  data.textContent = ev.data;
  li.append(meta, data);
  const list = $("watch-events");
  list.prepend(li);
  while (list.children.length > MAX_WATCHED) list.lastElementChild.remove();
  list.dataset.count = String(watchedCount);
}

function stopWatch() {
  if (watching !== null) watching.abort();
  watching = null;
}

async function startWatch(selectors) {
  stopWatch();
  const control = new AbortController();
  watching = control;
  $("watch-events").replaceChildren();
  watchedCount = 0;
  const query = selectors.map((s) => `topic=${encodeURIComponent(s)}`).join("&");
  let lastId = "";
  while (!control.signal.aborted) {
    try {
      const headers = { Accept: "text/event-stream" };
      if (lastId !== "") headers["Last-Event-ID"] = lastId;
      setWatch("connecting…");
      const res = await fetch(`../events?${query}`, { headers, cache: "no-store", signal: control.signal });
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        const why = body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`;
        // A 4xx is an answer about the selectors (a retry would get the same); a 5xx or a 429 may pass.
        if (res.status < 500 && res.status !== 429) {
          setWatch(`refused: ${why}`, true);
          return;
        }
        throw new Error(why);
      }
      setWatch(`watching ${selectors.join(" ")}`);
      $("watch-state").dataset.state = "open";
      const feed = sseParser(addEvent);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        lastId = feed(value);
      }
      setWatch("stream ended; reconnecting…");
    } catch (err) {
      if (control.signal.aborted) break;
      setWatch(`stream lost (${err.message}); reconnecting…`, true);
    }
    delete $("watch-state").dataset.state;
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

// ---- publish ------------------------------------------------------------------------------------------

async function publish(ev) {
  ev.preventDefault();
  const out = $("pub-result");
  out.classList.remove("bad");
  out.textContent = "publishing…";
  const body = { topic: $("pub-topic").value.trim(), data: $("pub-data").value };
  const type = $("pub-type").value.trim();
  if (type !== "") body.type = type;
  const headers = { "Content-Type": "application/json" };
  const token = $("pub-token").value.trim();
  // The token goes only into this request: it is never stored by the page.
  if (token !== "") headers.Authorization = `Bearer ${token}`;
  try {
    const res = await fetch("../publish", { method: "POST", headers, body: JSON.stringify(body) });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw new Error(answer.error ? `${answer.error.code}: ${answer.error.message}` : `HTTP ${res.status}`);
    }
    out.textContent = `published, id ${answer.id}`;
  } catch (err) {
    out.classList.add("bad");
    out.textContent = `not published: ${err.message}`;
  }
}

$("publish-form").addEventListener("submit", publish);
$("watch-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const selectors = $("watch-selector")
    .value.split(/\s+/)
    .filter((s) => s !== "");
  if (selectors.length > 0) startWatch(selectors);
});
$("watch-stop").addEventListener("click", () => {
  stopWatch();
  delete $("watch-state").dataset.state;
  setWatch("not watching");
});
window.addEventListener("resize", draw);

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function duration(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s} s` : `${s} s`;
}

poll();
