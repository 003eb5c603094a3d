// The chat page: streams answers from POST /api/chat/completions (Server-Sent Events, OpenAI chunk
// shape) with fetch and a ReadableStream, one pane per model, painted as the deltas arrive.
// Each delta's arrival-to-paint time is recorded as a performance measure "polydev:delta-paint".
import { answer, ApiError, showError } from "./app.js";

const form = document.getElementById("composer");
const panes = document.getElementById("panes");
const prompt = document.getElementById("prompt");
const send = document.getElementById("send");
const stop = document.getElementById("stop");
const status = document.getElementById("chat-status");
const keepHere = form.dataset.keep === "true";
const running = new Set();

function models() {
  const picked = ["m0", "m1", "m2"].map((id) => document.getElementById(id).value).filter(Boolean);
  return [...new Set(picked)];
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function paneFor(model) {
  for (const p of panes.querySelectorAll(".pane")) if (p.dataset.model === model) return p;
  const p = el("article", "pane");
  p.dataset.model = model;
  p.dataset.session = crypto.randomUUID();
  p.setAttribute("aria-label", model);
  const h = el("h2", "", model + " ");
  h.append(el("span", "badge pane-eph", "new"));
  p.append(h, el("div", "msgs"), el("p", "usage hint"));
  panes.append(p);
  return p;
}

function history(pane) {
  return [...pane.querySelectorAll(".msg[data-role]")].map((m) => ({ role: m.dataset.role, content: m.textContent }));
}

function addMsg(pane, role, text) {
  const m = el("div", "msg " + role, text);
  m.dataset.role = role;
  pane.querySelector(".msgs").append(m);
  return m;
}

// Paint measurement: every delta appended in a frame is painted in that frame; requestAnimationFrame
// runs just before it, so its time minus the delta's arrival is the arrival-to-paint time.
let pending = [];
function painted(t0) {
  pending.push(t0);
  if (pending.length > 1) return;
  requestAnimationFrame(() => {
    const now = performance.now();
    for (const t of pending) performance.measure("polydev:delta-paint", { start: t, end: now });
    pending = [];
  });
}

function ephemeralLabel(h) {
  if (!h) return "stored";
  if (h.startsWith("on")) return "ephemeral";
  if (h.includes("platform-key")) return "stored: platform key";
  return "stored";
}

async function ask(pane, model, text) {
  const messages = history(pane);
  messages.push({ role: "user", content: text });
  addMsg(pane, "user", text);
  const out = addMsg(pane, "assistant", "");
  const textNode = document.createTextNode("");
  out.append(textNode);
  out.dataset.state = "streaming";
  pane.setAttribute("aria-busy", "true");
  const ctl = new AbortController();
  running.add(ctl);
  try {
    const res = await fetch("/api/chat/completions", {
      method: "POST", credentials: "same-origin", signal: ctl.signal,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model, messages, stream: true, sessionId: pane.dataset.session }),
    });
    if (!res.ok) await answer(res); // throws the API's message
    const eph = ephemeralLabel(res.headers.get("X-Polydev-Ephemeral"));
    pane.querySelector(".pane-eph").textContent = eph;
    pane.dataset.ephemeral = eph;
    await readStream(res.body, (delta) => {
      const t0 = performance.now();
      textNode.appendData(delta);
      painted(t0);
    }, (usage) => {
      pane.querySelector(".usage").textContent = `${usage.prompt_tokens} tokens in, ${usage.completion_tokens} out`;
    });
    out.dataset.state = "done";
    if (eph === "ephemeral" && keepHere) keepLocally(pane);
    else if (eph !== "ephemeral") listStored(pane, messages[0].content);
  } catch (e) {
    if (e.name === "AbortError") {
      out.dataset.state = "stopped"; // the stylesheet marks it; the text stays what was answered
    } else {
      out.dataset.state = "error";
      out.remove();
      const err = addMsg(pane, "error", e instanceof ApiError ? e.message : "Could not reach Polydev: " + e.message);
      delete err.dataset.role; // not part of the conversation sent back
      err.setAttribute("role", "alert");
    }
  } finally {
    running.delete(ctl);
    pane.removeAttribute("aria-busy");
  }
}

// readStream parses SSE events ("data: {...}\n\n", "data: [DONE]") and hands each content delta on.
async function readStream(body, onDelta, onUsage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue; // comments (heartbeats), event names
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ApiError(chunk.error.message || "The stream failed.", 0, chunk.error.code);
        const delta = chunk.choices?.[0]?.delta?.content;
        if (delta) onDelta(delta);
        if (chunk.usage) onUsage(chunk.usage);
      }
    }
  }
}

function listStored(pane, first) {
  const list = document.getElementById("conv-list");
  if (list.querySelector(`li[data-id="${pane.dataset.session}"]`)) return;
  document.getElementById("no-convs")?.remove();
  const li = el("li");
  li.dataset.id = pane.dataset.session;
  const a = el("a", "", first.split("\n")[0].slice(0, 80) || "Untitled");
  a.href = "/chat?c=" + pane.dataset.session;
  li.append(a);
  list.prepend(li);
}

// Ephemeral conversations the user chose to keep live in this browser's localStorage only.
const LOCAL = "polydev.chat.";
function keepLocally(pane) {
  const msgs = history(pane);
  localStorage.setItem(LOCAL + pane.dataset.session, JSON.stringify({
    model: pane.dataset.model, title: msgs[0]?.content.split("\n")[0].slice(0, 80) || "Untitled", messages: msgs, at: Date.now(),
  }));
  showLocal();
}

function showLocal() {
  const box = document.getElementById("local-convs");
  const ul = box.querySelector("ul");
  ul.replaceChildren();
  const items = [];
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i);
    if (!k.startsWith(LOCAL)) continue;
    try { items.push({ id: k.slice(LOCAL.length), ...JSON.parse(localStorage.getItem(k)) }); } catch { /* not ours */ }
  }
  items.sort((a, b) => b.at - a.at);
  for (const c of items) {
    const li = el("li");
    const a = el("a", "", c.title);
    a.href = "/chat#local=" + c.id;
    const del = el("button", "link", "✕");
    del.type = "button";
    del.setAttribute("aria-label", "Forget " + c.title);
    del.addEventListener("click", () => { localStorage.removeItem(LOCAL + c.id); showLocal(); });
    li.append(a, del);
    ul.append(li);
  }
  box.hidden = items.length === 0;
}

function openLocal() {
  const m = location.hash.match(/^#local=([0-9a-f-]{36})$/);
  if (!m) return;
  const c = JSON.parse(localStorage.getItem(LOCAL + m[1]) || "null");
  if (!c) return;
  panes.replaceChildren();
  const p = paneFor(c.model);
  p.dataset.session = m[1];
  for (const msg of c.messages) addMsg(p, msg.role, msg.content);
  document.getElementById("m0").value = c.model;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = prompt.value.trim();
  const picked = models();
  if (!text) { showError(form, "Write a message first."); return; }
  if (!picked.length) { showError(form, "Pick a model."); return; }
  form.querySelector(".error").textContent = "";
  prompt.value = "";
  send.disabled = true;
  stop.disabled = false;
  status.textContent = "Answering…";
  await Promise.allSettled(picked.map((m) => ask(paneFor(m), m, text)));
  send.disabled = false;
  stop.disabled = true;
  status.textContent = "Answer complete.";
  prompt.focus();
});

stop.addEventListener("click", () => { for (const c of running) c.abort(); });

prompt.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); }
});

window.addEventListener("hashchange", openLocal);
if (keepHere || localStorage.length) showLocal();
openLocal();
