// load.mjs BASE_URL CLIP CLIENTS REQUESTS OUT_JSON
//
// A bounded load on hark serve: CLIENTS concurrent clients share REQUESTS
// requests: 1 in 5 submits CLIP (multipart, low priority), the others read
// (a job, the list, healthz, metrics, models). Every acknowledged submit is
// checked afterwards (GET returns it). Writes the figures as JSON.
import fs from 'node:fs';

const [base, clip, clientsArg, requestsArg, out] = process.argv.slice(2);
const clients = Number(clientsArg);
const total = Number(requestsArg);
const token = process.env.HARK_TOKEN;
const auth = token ? { Authorization: `Bearer ${token}` } : {};
const audio = fs.readFileSync(clip);
const status = {};
const latencies = [];
const acked = [];
let next = 0;
let errors = 0;

async function one(i) {
  const t0 = performance.now();
  let res;
  try {
    if (i % 5 === 0) {
      const form = new FormData();
      form.append('file', new Blob([audio]), 'load.wav');
      form.append('priority', 'low');
      res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: auth });
      if (res.status === 201) acked.push((await res.json()).id);
      else await res.arrayBuffer();
    } else {
      const paths = ['/v1/jobs?limit=20&order=desc', '/healthz', '/metrics', '/v1/models'];
      const path = acked.length && i % 2 ? `/v1/jobs/${acked[i % acked.length]}` : paths[i % paths.length];
      res = await fetch(`${base}${path}`, { headers: auth });
      await res.arrayBuffer();
    }
    status[res.status] = (status[res.status] || 0) + 1;
  } catch (e) {
    errors++;
  }
  latencies.push(performance.now() - t0);
}

async function client() {
  while (next < total) await one(next++);
}

const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, client));
const seconds = (performance.now() - t0) / 1000;

let lost = 0;
for (const id of acked) {
  const res = await fetch(`${base}/v1/jobs/${id}`, { headers: auth });
  if (res.status !== 200) lost++;
  await res.arrayBuffer();
}
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
fs.writeFileSync(out, JSON.stringify({
  clients, requests: total, seconds, rps: total / seconds, status, errors,
  submitted: acked.length, lost, p50_ms: pct(0.5), p95_ms: pct(0.95), p99_ms: pct(0.99),
}));
