// openai_client.mjs BASE_URL FILE OUTDIR
//
// The official `openai` npm package, pointed at hark serve with baseURL,
// transcribes FILE the ways an OpenAI user would. Writes what it got to
// OUTDIR (json.txt, text.txt, srt.srt, verbose.json, stream.json) for the
// shell test to compare with `hark transcribe`; exits non-zero on any error.
import fs from 'node:fs';
import OpenAI from 'openai';

const [base, file, out] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: process.env.HARK_TOKEN || 'unused', maxRetries: 0 });
const upload = () => fs.createReadStream(file);

const json = await client.audio.transcriptions.create({ file: upload(), model: 'whisper-1' });
fs.writeFileSync(`${out}/json.txt`, json.text);

const text = await client.audio.transcriptions.create({ file: upload(), model: 'whisper-1', response_format: 'text' });
fs.writeFileSync(`${out}/text.txt`, text);

const srt = await client.audio.transcriptions.create({ file: upload(), model: 'pocketsphinx-en-us', response_format: 'srt' });
fs.writeFileSync(`${out}/srt.srt`, srt);

const verbose = await client.audio.transcriptions.create({
  file: upload(), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'],
});
fs.writeFileSync(`${out}/verbose.json`, JSON.stringify(verbose));

const stream = await client.audio.transcriptions.create({ file: upload(), model: 'whisper-1', stream: true });
const events = [];
for await (const event of stream) events.push(event);
fs.writeFileSync(`${out}/stream.json`, JSON.stringify(events));

// An error comes back as the library's APIError with OpenAI's fields.
try {
  await client.audio.transcriptions.create({ file: upload(), model: 'gpt-4o-transcribe' });
  throw new Error('an unknown model was accepted');
} catch (e) {
  if (!(e instanceof OpenAI.APIError) || e.status !== 400 || e.param !== 'model' || e.code !== 'model_not_found')
    throw e;
  fs.writeFileSync(`${out}/error.txt`, e.message);
}

const models = await client.models.list();
fs.writeFileSync(`${out}/models.txt`, models.data.map((m) => m.id).join('\n'));
