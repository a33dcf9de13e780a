// openai_newer.mjs PACKAGE BASE_URL CLIP OUTDIR
//
// The official `openai` npm package (PACKAGE: openai4, openai5 or openai6,
// the pinned majors of package.json), pointed at hark serve with baseURL,
// calls what newer clients use beyond transcriptions: models.retrieve,
// audio.translations, and the newer transcription fields (chunking_strategy
// as an object, include, keywords, languages, known speakers). Writes
// model.json, model_error.txt, translation.txt, translation.vtt and
// newer.json to OUTDIR for openai_api.sh to compare with `hark transcribe`;
// exits non-zero on any unexpected error. The transcription formats, stream
// and errors of every major are client_matrix.sh's (openai_matrix.mjs).
import fs from 'node:fs';

const [pkg, base, short, out] = process.argv.slice(2);
const { default: OpenAI } = await import(pkg);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: process.env.HARK_TOKEN || 'unused', maxRetries: 0 });

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
