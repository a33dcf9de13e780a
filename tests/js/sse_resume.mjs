// sse_resume.mjs BASE_URL JOB_ID OUT
//
// The `eventsource` npm package follows a job's events, disconnects after
// three chunk_committed events, reconnects with Last-Event-ID (a new
// EventSource whose fetch adds the header, as a client restarting would),
// and follows to the final event. Writes every event received as JSON
// lines [id, type] to OUT, the first and second connection's separated by
// a line "reconnect".
import fs from 'node:fs';
import { EventSource } from 'eventsource';

const [base, job, out] = process.argv.slice(2);
const url = `${base}/v1/jobs/${job}/events`;
const token = process.env.HARK_TOKEN;
const lines = [];
const finals = new Set(['succeeded', 'failed', 'cancelled']);
const types = ['queued', 'started', 'progress', 'preempted', 'resumed', 'paused', 'chunk_committed',
  ...finals];

function follow(lastId, stopAfterChunks) {
  return new Promise((resolve, reject) => {
    const es = new EventSource(url, {
      fetch: (input, init) => fetch(input, {
        ...init,
        headers: {
          ...init.headers,
          ...(lastId ? { 'Last-Event-ID': lastId } : {}),
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
      }),
    });
    let chunks = 0;
    let last = lastId;
    const timer = setTimeout(() => { es.close(); reject(new Error('no final event in 300 s')); }, 300000);
    for (const type of types) {
      es.addEventListener(type, (e) => {
        lines.push(JSON.stringify([Number(e.lastEventId), type]));
        last = e.lastEventId;
        if (type === 'chunk_committed') chunks++;
        if (finals.has(type) || (stopAfterChunks && chunks >= stopAfterChunks)) {
          clearTimeout(timer);
          es.close();
          resolve(last);
        }
      });
    }
    es.onerror = (e) => { if (es.readyState === EventSource.CLOSED) { clearTimeout(timer); reject(e); } };
  });
}

const last = await follow(null, 3);
lines.push('reconnect');
await new Promise((r) => setTimeout(r, 1500)); // the job goes on meanwhile
await follow(last, 0);
fs.writeFileSync(out, lines.join('\n') + '\n');
