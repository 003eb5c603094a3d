// Reordering the rows of <tbody data-reorder="/api/admin/providers">: drag a row, or focus its handle
// and press the up and down arrow keys. Every move is saved at once (the seed's reorder_keys action
// with every key id in the new order); a refusal puts the rows back and shows the API's message.
import { api } from "./app.js";

const body = document.querySelector("tbody[data-reorder]");
const status = document.getElementById("order-status");
const error = document.getElementById("order-error");

function ids() { return [...body.rows].map((r) => r.dataset.id).filter(Boolean); }

async function save(before, focus) {
  error.textContent = "";
  try {
    await api("POST", body.dataset.reorder, { action: "reorder_keys", keyIds: ids() });
    const n = ids().indexOf(focus?.closest("tr")?.dataset.id) + 1;
    status.textContent = n > 0 ? `Saved: now number ${n} of ${before.length}.` : "Order saved.";
  } catch (e) {
    for (const id of before) body.appendChild(body.querySelector(`tr[data-id="${id}"]`));
    status.textContent = "";
    error.textContent = e.message;
  }
  focus?.focus();
}

if (body) {
  body.addEventListener("keydown", (ev) => {
    const handle = ev.target.closest(".handle");
    if (!handle || (ev.key !== "ArrowUp" && ev.key !== "ArrowDown")) return;
    ev.preventDefault();
    const row = handle.closest("tr");
    const other = ev.key === "ArrowUp" ? row.previousElementSibling : row.nextElementSibling;
    if (!other) return;
    const before = ids();
    if (ev.key === "ArrowUp") body.insertBefore(row, other); else body.insertBefore(other, row);
    save(before, handle);
  });

  let dragged = null, start = null;
  body.addEventListener("dragstart", (ev) => {
    dragged = ev.target.closest("tr");
    start = ids();
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", dragged.dataset.id);
    dragged.classList.add("dragging");
  });
  body.addEventListener("dragover", (ev) => {
    if (!dragged) return;
    ev.preventDefault();
    const over = ev.target.closest("tr");
    if (!over || over === dragged) return;
    const r = over.getBoundingClientRect();
    body.insertBefore(dragged, ev.clientY < r.top + r.height / 2 ? over : over.nextSibling);
  });
  body.addEventListener("drop", (ev) => ev.preventDefault());
  body.addEventListener("dragend", () => {
    if (!dragged) return;
    const row = dragged;
    row.classList.remove("dragging");
    dragged = null;
    if (ids().join() !== start.join()) save(start, row.querySelector(".handle"));
  });
}
