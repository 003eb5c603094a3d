// Runs named SDK calls one after another and prints one JSON object: for each call
// {ok: true, value} or {ok: false, status, error}. A failing call does not stop the others, so the Go
// test reports every call on its own.
export async function run(calls) {
  const out = {};
  for (const [name, fn] of Object.entries(calls)) {
    try {
      out[name] = { ok: true, value: await fn() };
    } catch (err) {
      out[name] = { ok: false, status: err?.status ?? null, error: String(err?.message ?? err).slice(0, 2000) };
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

export const base = process.env.POLYDEV_BASE;
export const token = process.env.POLYDEV_TOKEN;
