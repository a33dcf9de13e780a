// openai_client.mjs BASE_URL FILE OUTDIR [SHORT]
//
// The official `openai` npm package, pointed at hark serve with baseURL,
// transcribes FILE the ways an OpenAI user would. Writes what it got to
// OUTDIR (json.txt, text.txt, srt.srt, verbose.json, stream.json; with SHORT
// also model.json, model_error.txt, translation.txt, translation.vtt and
// newer.json) for the shell test to compare with `hark transcribe`; exits
// non-zero on any error.
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

// The rest uses SHORT (a few seconds) when given: the newer routes and fields.
const short = process.argv[5];
if (short) {
  const model = await client.models.retrieve('whisper-1');
  fs.writeFileSync(`${out}/model.json`, JSON.stringify(model));
  try {
    await client.models.retrieve('gpt-4o-transcribe');
    throw new Error('an unknown model was found');
  } catch (e) {
    if (!(e instanceof OpenAI.NotFoundError)) throw e;
    fs.writeFileSync(`${out}/model_error.txt`, `${e.status} ${e.code}\n${e.message}`);
  }

  const clip = () => fs.createReadStream(short);
  const translation = await client.audio.translations.create({ file: clip(), model: 'whisper-1' });
  fs.writeFileSync(`${out}/translation.txt`, translation.text);
  const vtt = await client.audio.translations.create({ file: clip(), model: 'whisper-1', response_format: 'vtt' });
  fs.writeFileSync(`${out}/translation.vtt`, vtt);

  // The SDK sends chunking_strategy's object as chunking_strategy[type]=...
  // and arrays as repeated name[] parts.
  const reference = `data:audio/wav;base64,${fs.readFileSync(short).subarray(0, 64000).toString('base64')}`;
  const newer = await client.audio.transcriptions.create({
    file: clip(), model: 'whisper-1', language: 'en-US', languages: ['en', 'en-GB'],
    chunking_strategy: { type: 'server_vad', prefix_padding_ms: 300, silence_duration_ms: 500, threshold: 0.5 },
    include: ['logprobs'], keywords: ['Marianne', 'Norland Park'], prompt: 'Austen',
    known_speaker_names: ['agent'], known_speaker_references: [reference],
  });
  fs.writeFileSync(`${out}/newer.json`, JSON.stringify(newer));
}
