// The browser logins page: sessions in progress are polled (GET /api/auth/session/{id}) and the page
// reloads when one changes status, so a sign-in completed in the viewer shows here without a click.
import { api } from "./app.js";

const every = 2000;

async function poll() {
  const rows = [...document.querySelectorAll("tr[data-session]")].filter(
    (tr) => tr.dataset.status === "pending" || tr.dataset.status === "running");
  if (rows.length === 0) return;
  for (const tr of rows) {
    try {
      const s = await api("GET", `/api/auth/session/${tr.dataset.session}`);
      if (s.status !== tr.dataset.status) { location.reload(); return; }
    } catch {
      // A failed poll is retried at the next tick; the page keeps what it shows.
    }
  }
  setTimeout(poll, every);
}

setTimeout(poll, every);
