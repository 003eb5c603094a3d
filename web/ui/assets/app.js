// Polydev's page script: every change a page makes is a fetch to the JSON API, declared in the HTML.
//   <form data-api="/api/x" data-method="POST" data-then="reload">  fields become a JSON body
//   <button data-api="/api/x/1" data-method="DELETE" data-confirm="…" data-then="reload">
// A form's data-wrap="name" sends {name: [fields]} for APIs that take a list of rows.
// data-then: "reload", a path to go to, "show:#id:field" (put a field of the answer into #id, shown
// once), "go:field" (go to the URL in a field of the answer), or "event" (the element fires "api:done" with the answer for a page's own module).
// Errors show their message in the form's .error element (else #flash), never raw JSON.

export class ApiError extends Error {
  constructor(message, status, code) { super(message); this.status = status; this.code = code; }
}

// api calls the JSON API and returns the answer's JSON (null for 204), or throws an ApiError with the
// API's own message.
export async function api(method, url, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  return answer(res);
}

// answer reads a fetch Response: JSON on success, an ApiError with the API's message otherwise.
export async function answer(res) {
  const text = await res.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!res.ok) {
    const e = json && json.error;
    throw new ApiError(e && e.message ? e.message : `Request failed (${res.status}).`, res.status, e && e.code);
  }
  return json;
}

// showError puts a message where the user is looking: the element's form's .error, or #flash.
export function showError(el, message) {
  const form = el && el.closest("form, [data-errors]");
  const box = (form && form.querySelector(".error")) || document.getElementById("flash");
  box.textContent = message;
  box.hidden = false;
  if (box.id === "flash") box.focus?.();
}

function clearError(el) {
  const form = el && el.closest("form, [data-errors]");
  const box = form && form.querySelector(".error");
  if (box) box.textContent = "";
  const flash = document.getElementById("flash");
  if (flash) { flash.textContent = ""; flash.hidden = true; }
}

// formBody turns a form's named controls into a JSON object: checkboxes are booleans, number inputs
// numbers (empty: left out, or null with data-null), empty optional text left out.
export function formBody(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "checkbox") { body[el.name] = el.checked; continue; }
    const v = el.value.trim();
    if (v === "") {
      if ("lines" in el.dataset) body[el.name] = [];
      else if ("null" in el.dataset) body[el.name] = null;
      else if (!("optional" in el.dataset) && el.type !== "number") body[el.name] = v;
      continue;
    }
    if (el.type === "number" || "number" in el.dataset) body[el.name] = Number(v);
    else if ("json" in el.dataset) body[el.name] = JSON.parse(v);
    else body[el.name] = "lines" in el.dataset ? v.split(/\s*[\n,]\s*/).filter(Boolean) : v;
  }
  return body;
}

async function then(el, json) {
  const how = el.dataset.then || "reload";
  if (how === "reload") { location.reload(); return; }
  if (how === "event") { el.dispatchEvent(new CustomEvent("api:done", { detail: json, bubbles: true })); return; }
  if (how.startsWith("show:")) {
    const [, sel, field] = how.split(":");
    const box = document.querySelector(sel);
    box.querySelector(".value").textContent = json[field];
    box.hidden = false;
    box.querySelector(".value").focus?.();
    if (el.tagName === "FORM") el.reset();
    return;
  }
  if (how.startsWith("go:")) { location.assign(json[how.slice(3)]); return; }
  location.assign(how);
}

async function run(el, body) {
  if (el.dataset.confirm && !confirm(el.dataset.confirm)) return;
  clearError(el);
  const busy = el.tagName === "FORM" ? el.querySelector("[type=submit]") : el;
  if (busy) busy.disabled = true;
  try {
    const json = await api(el.dataset.method || "POST", el.dataset.api, body);
    await then(el, json);
  } catch (e) {
    showError(el, e instanceof ApiError ? e.message : "Could not reach Polydev: " + e.message);
  } finally {
    if (busy) busy.disabled = false;
  }
}

document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (!form.dataset.api) return;
  ev.preventDefault();
  let body;
  try { body = formBody(form); } catch (e) { showError(form, e.message); return; }
  // data-wrap="prices": the API takes a list of such objects under that name.
  if (form.dataset.wrap) body = { [form.dataset.wrap]: [body] };
  run(form, body);
});

document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-api]");
  if (!b || b.form?.dataset.api) return;
  ev.preventDefault();
  run(b, b.dataset.body ? JSON.parse(b.dataset.body) : undefined);
});

// Toggles that save themselves: <input type=checkbox data-save="/api/x" data-method="PUT" name="f">.
document.addEventListener("change", (ev) => {
  const el = ev.target;
  if (!el.dataset || !el.dataset.save) return;
  const body = { [el.name]: el.checked };
  el.disabled = true;
  clearError(el);
  api(el.dataset.method || "PUT", el.dataset.save, body)
    .then(() => { if (el.dataset.then === "reload") location.reload(); })
    .catch((e) => { el.checked = !el.checked; showError(el, e.message); })
    .finally(() => { el.disabled = false; });
});
