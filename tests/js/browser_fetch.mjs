// browser_fetch.mjs BASE_URL PAGE_URL OUTDIR transcribe FILE
// browser_fetch.mjs BASE_URL PAGE_URL OUTDIR errors BODY OVER
// browser_fetch.mjs BASE_URL PAGE_URL OUTDIR cors FILE
//
// A browser as a client of OpenAI's transcription API on hark serve: Debian's
// headless Chromium driven by puppeteer-core opens PAGE_URL, and the page
// calls the API with fetch + FormData, the file a File made of FILE's bytes
// (read here and handed to the page). When PAGE_URL is on BASE_URL's origin
// (its /healthz) the page fetches relative URLs; otherwise (another local
// origin) it fetches BASE_URL's absolute ones, which takes CORS.
//
// The cases and the files they write are those of openai_matrix.mjs
// (CASE.out or CASE.err.json: the status, the body's "error" object, or the
// exception fetch threw) for tests/integration/client_matrix.sh to judge;
// console.txt keeps what the page's console said (CORS refusals land there).
//
// transcribe, errors: as openai_matrix.mjs ($HARK_TOKEN for errors).
// cors: from another origin, with `Authorization: Bearer $HARK_TOKEN` (a
//   header that makes the browser send a preflight first): json and stream;
//   then, when $HARK_REFUSED_PAGE names a page on an origin the server does
//   not allow, json from there as case "refused" (fetch must fail).
// Exits 0 once the cases have run, 1 if the browser could not be driven.
import fs from 'node:fs';
import path from 'node:path';
import { launchChromium } from './chromium.mjs';

const [base, pageUrl, out, set, ...files] = process.argv.slice(2);
const token = process.env.HARK_TOKEN || '';
const sameOrigin = new URL(pageUrl).origin === new URL(base).origin;
const api = (p) => (sameOrigin ? p : base + p);
const TRANSCRIBE = '/v1/audio/transcriptions';

const { browser, close: closeBrowser } = await launchChromium();
const consoleLines = [];
let status = 0;
try {
  const page = await browser.newPage();
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(pageUrl);

  // In the page: fetch with a FormData body; the answer, the events of a
  // stream, or the exception.
  const call = (url, fields, b64, name, headers, stream) =>
    page.evaluate(async (url, fields, b64, name, headers, stream) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const form = new FormData();
      form.append('file', new File([bytes], name, { type: 'audio/wav' }));
      for (const [k, v] of fields) form.append(k, v);
      let r;
      try {
        r = await fetch(url, { method: 'POST', body: form, headers });
      } catch (e) {
        return { status: null, exception: `${e.name}: ${e.message}` };
      }
      if (r.status === 200 && stream) {
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let text = '';
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += dec.decode(value, { stream: true });
        }
        const events = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
        return { status: 200, events };
      }
      return { status: r.status, body: await r.text() };
    }, url, fields, b64, name, headers, stream);

  const b64 = (f) => fs.readFileSync(f).toString('base64');
  const write = (n, s) => fs.writeFileSync(`${out}/${n}`, s);
  const describe = (r) => {
    let error = null;
    try {
      error = JSON.parse(r.body).error;
    } catch {}
    return { status: r.status, error, exception: r.exception || null, body: r.body ? r.body.slice(0, 300) : null };
  };
  const auth = (t) => (t ? { Authorization: `Bearer ${t}` } : {});
  const run = async (name, file, fields, { get = (r) => r.body, stream = false, headers = auth(token) } = {}) => {
    const r = await call(api(TRANSCRIBE), fields, b64(file), path.basename(file), headers, stream);
    if (r.status === 200) write(`${name}.out`, stream ? JSON.stringify(r.events) : get(r));
    else write(`${name}.err.json`, JSON.stringify(describe(r), null, 1));
  };
  const w = [['model', 'whisper-1']];
  const vj = [...w, ['response_format', 'verbose_json']];
  const g = 'timestamp_granularities[]';
  const only = process.env.MATRIX_CASES ? process.env.MATRIX_CASES.split(/\s+/) : null;
  const want = (n) => !only || only.includes(n);

  if (set === 'transcribe' || set === 'cors') {
    const f = files[0];
    const cases = [
      ['json', w, { get: (r) => JSON.parse(r.body).text }],
      ['text', [...w, ['response_format', 'text']]],
      ['srt', [['model', 'pocketsphinx-en-us'], ['response_format', 'srt']]],
      ['vtt', [...w, ['response_format', 'vtt']]],
      ['segments', [...vj, [g, 'segment']]],
      ['words', [...vj, [g, 'word']]],
      ['both', [...vj, [g, 'word'], [g, 'segment']]],
      ['stream', [...w, ['stream', 'true']], { stream: true }],
      ['bad_model', [['model', 'gpt-4o-transcribe']]],
    ];
    for (const [name, fields, opts] of cases)
      if (set === 'transcribe' ? want(name) : name === 'json' || name === 'stream') await run(name, f, fields, opts);
    if (set === 'cors' && process.env.HARK_REFUSED_PAGE) {
      await page.goto(process.env.HARK_REFUSED_PAGE);
      await run('refused', f, w);
    }
  } else if (set === 'errors') {
    const [body, over] = files;
    const tries = Number(process.env.HARK_TRIES || 3);
    const errorCase = async (name, url, file, headers) => {
      const seen = [];
      let kept = null;
      for (let i = 0; i < tries; i++) {
        const d = describe(await call(url, w, b64(file), path.basename(file), headers, false));
        seen.push(`${d.status ?? '-'} ${d.exception || 'answer'}`);
        if (!kept || (kept.status !== null && d.status === null)) kept = d;
      }
      write(`${name}.err.json`, JSON.stringify(kept, null, 1));
      write(`${name}.tries`, seen.join('\n') + '\n');
    };
    await errorCase('wrong_token', api(TRANSCRIBE), body, auth('hk-wrong-000000000000000000'));
    await errorCase('priority', api(TRANSCRIBE), body, { ...auth(token), 'X-Hark-Priority': 'realtime' });
    await errorCase('unknown_route', api('/v1/audio/nonexistent'), body, auth(token));
    await errorCase('too_large', api(TRANSCRIBE), over, auth(token));
  } else {
    console.error(`browser_fetch.mjs: unknown set '${set}'`);
    status = 2;
  }
} catch (e) {
  console.error(`browser_fetch.mjs: ${e.stack || e}`);
  status = 1;
} finally {
  fs.writeFileSync(`${out}/console.txt`, consoleLines.join('\n') + '\n');
  await closeBrowser();
}
process.exit(status);
