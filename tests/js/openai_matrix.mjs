// openai_matrix.mjs PACKAGE BASE_URL OUTDIR transcribe FILE
// openai_matrix.mjs PACKAGE BASE_URL OUTDIR errors BODY OVER
//
// The official `openai` npm package, one major version at a time (PACKAGE is
// the npm alias of tests/js/package.json: openai4, openai5 or openai6),
// pointed at hark serve with baseURL. Each call is one case; what it got
// goes to OUTDIR/CASE.out, or, when the call threw, a description of the
// error to OUTDIR/CASE.err.json (class, status, OpenAI's error fields,
// whether it was a connection error), for tests/integration/client_matrix.sh
// to judge. Always exits 0 once the cases have run.
//
// transcribe: FILE through every response_format, the timestamp
//   granularities, stream: true, a 400 (unknown model), and the model list.
// errors: errors a server may answer before it has read the body (BODY is
//   over 64 KiB and under the server's --max-upload, OVER is over it).
//   $HARK_TOKEN is a valid token whose ceiling is below realtime.
//     wrong_token   a wrong apiKey, BODY                   -> 401
//     priority      X-Hark-Priority: realtime, BODY        -> 403
//     unknown_route audio.transcriptions under a wrong base URL (/v2), BODY -> 404
//     too_large     OVER                                   -> 413
import fs from 'node:fs';

const [pkg, base, out, set, ...files] = process.argv.slice(2);
const { default: OpenAI } = await import(pkg);
const client = (apiKey, prefix = '/v1') =>
  new OpenAI({ baseURL: `${base}${prefix}`, apiKey: apiKey || process.env.HARK_TOKEN || 'unused', maxRetries: 0, timeout: 120000 });
const upload = (f) => fs.createReadStream(f);

function describe(e) {
  return {
    class: e?.constructor?.name,
    api_error: e instanceof OpenAI.APIError,
    connection_error: e instanceof OpenAI.APIConnectionError,
    authentication_error: e instanceof OpenAI.AuthenticationError,
    permission_denied_error: e instanceof OpenAI.PermissionDeniedError,
    not_found_error: e instanceof OpenAI.NotFoundError,
    bad_request_error: e instanceof OpenAI.BadRequestError,
    status: e?.status ?? null,
    error: e?.error ?? null,
    type: e?.type ?? null,
    code: e?.code ?? null,
    param: e?.param ?? null,
    message: String(e?.message ?? e),
    cause: causes(e?.cause),
  };
}

// The chain of causes under a connection error (undici nests the socket's).
function causes(c) {
  const parts = [];
  for (let i = 0; c && i < 4; i++, c = c.cause)
    parts.push(`${c.name || c.constructor?.name || ''}: ${c.message || c}${c.code ? ` (${c.code})` : ''}`);
  return parts.length ? parts.join(' <- ') : null;
}

// $MATRIX_CASES (space-separated case names), when set, runs only those.
const only = process.env.MATRIX_CASES ? process.env.MATRIX_CASES.split(/\s+/) : null;

async function run(name, fn) {
  if (only && !only.includes(name)) return;
  try {
    const got = await fn();
    fs.writeFileSync(`${out}/${name}.out`, typeof got === 'string' ? got : JSON.stringify(got));
  } catch (e) {
    fs.writeFileSync(`${out}/${name}.err.json`, JSON.stringify(describe(e), null, 1));
  }
}

// An error answered while the client still sends is a race the client may
// win or lose: try such a case `tries` times, keep the first outcome that is
// not an API error with a status (else the last), and list every outcome in
// NAME.tries.
async function runTries(name, tries, fn) {
  const seen = [];
  let kept = null;
  for (let i = 0; i < tries; i++) {
    let d;
    try {
      await fn();
      d = { class: 'none (succeeded)', status: null };
    } catch (e) {
      d = describe(e);
    }
    seen.push(`${d.status ?? '-'} ${d.class}${d.cause ? ` [${d.cause}]` : ''}`);
    if (!kept || (kept.status !== null && d.status === null)) kept = d;
  }
  fs.writeFileSync(`${out}/${name}.err.json`, JSON.stringify(kept, null, 1));
  fs.writeFileSync(`${out}/${name}.tries`, seen.join('\n') + '\n');
}

if (set === 'transcribe') {
  const c = client();
  const file = files[0];
  const tr = (params) => c.audio.transcriptions.create({ file: upload(file), model: 'whisper-1', ...params });
  await run('json', async () => (await tr({})).text);
  await run('text', () => tr({ response_format: 'text' }));
  await run('srt', () => tr({ model: 'pocketsphinx-en-us', response_format: 'srt' }));
  await run('vtt', () => tr({ response_format: 'vtt' }));
  await run('words', () => tr({ response_format: 'verbose_json', timestamp_granularities: ['word'] }));
  await run('segments', () => tr({ response_format: 'verbose_json', timestamp_granularities: ['segment'] }));
  await run('both', () => tr({ response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'] }));
  await run('stream', async () => {
    const events = [];
    for await (const event of await tr({ stream: true })) events.push(event);
    return events;
  });
  await run('bad_model', () => tr({ model: 'gpt-4o-transcribe' }));
  await run('models', async () => (await c.models.list()).data.map((m) => m.id).join('\n'));
} else if (set === 'errors') {
  const [body, over] = files;
  const tries = Number(process.env.HARK_TRIES || 3);
  const run = (name, fn) => runTries(name, tries, fn);
  await run('wrong_token', () =>
    client('hk-wrong-000000000000000000').audio.transcriptions.create({ file: upload(body), model: 'whisper-1' }));
  await run('priority', () =>
    client().audio.transcriptions.create(
      { file: upload(body), model: 'whisper-1' },
      { headers: { 'X-Hark-Priority': 'realtime' } },
    ));
  // A client configured with a wrong base URL: POST /v2/audio/transcriptions.
  await run('unknown_route', () =>
    client(undefined, '/v2').audio.transcriptions.create({ file: upload(body), model: 'whisper-1' }));
  await run('too_large', () => client().audio.transcriptions.create({ file: upload(over), model: 'whisper-1' }));
} else {
  console.error(`openai_matrix.mjs: unknown set '${set}'`);
  process.exit(2);
}
