// media_recorder.mjs OUTDIR WAV SECONDS TIMESLICE_MS MIME...
//
// What a browser sends for live dictation: Debian's headless Chromium,
// driven by puppeteer-core, hears WAV as its microphone (Chromium's fake
// capture device) and records it with MediaRecorder.start(TIMESLICE_MS) for
// SECONDS, once per MIME type it supports (MediaRecorder.isTypeSupported).
// Each dataavailable blob, in order, is written to OUTDIR/TAG/NNNN.bin, where
// TAG is the MIME type made a file name ("audio_webm_codecs_opus"); the ones
// not supported are listed in OUTDIR/unsupported.txt. The page is served
// from 127.0.0.1 here (getUserMedia needs a secure context; loopback is
// one). Exits 0 once every type has been tried, 1 if the browser could not
// be driven.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { launchChromium } from './chromium.mjs';

const [out, wav, seconds, slice, ...mimes] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>recorder</title>');
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const pageUrl = `http://127.0.0.1:${server.address().port}/`;

const { browser, close: closeBrowser } = await launchChromium([
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${path.resolve(wav)}`,
  '--autoplay-policy=no-user-gesture-required']);
let status = 0;
const unsupported = [];
try {
  const page = await browser.newPage();
  const lines = [];
  page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  await page.goto(pageUrl);
  for (const mime of mimes) {
    const tag = mime.replace(/[^A-Za-z0-9]+/g, '_').replace(/_+$/, '');
    // In the page: record, and hand each blob over as base64 with the time
    // it came (ms since start()).
    const got = await page.evaluate(async (mime, seconds, slice) => {
      if (!MediaRecorder.isTypeSupported(mime)) return null;
      // The microphone as it is: no echo cancellation, noise suppression
      // or gain control, so what is recorded can be compared with WAV.
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
      const rec = new MediaRecorder(stream, { mimeType: mime });
      const blobs = [];
      const t0 = performance.now();
      rec.ondataavailable = (e) => blobs.push({ blob: e.data, at: performance.now() - t0 });
      const stopped = new Promise((ok) => { rec.onstop = ok; });
      rec.start(slice);
      await new Promise((ok) => setTimeout(ok, seconds * 1000));
      rec.stop();
      await stopped;
      stream.getTracks().forEach((t) => t.stop());
      const pieces = [];
      for (const { blob, at } of blobs) {
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        pieces.push({ b64: btoa(s), at });
      }
      return { type: rec.mimeType, pieces };
    }, mime, Number(seconds), Number(slice));
    if (!got) {
      unsupported.push(mime);
      continue;
    }
    const dir = path.join(out, tag);
    fs.mkdirSync(dir, { recursive: true });
    const times = [];
    got.pieces.forEach((p, i) => {
      fs.writeFileSync(path.join(dir, String(i).padStart(4, '0') + '.bin'), Buffer.from(p.b64, 'base64'));
      times.push(p.at.toFixed(0));
    });
    fs.writeFileSync(path.join(dir, 'times.txt'), times.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'mime.txt'), got.type + '\n');
  }
  fs.writeFileSync(path.join(out, 'console.txt'), lines.join('\n') + '\n');
} catch (e) {
  console.error(`media_recorder: ${e.stack || e}`);
  status = 1;
} finally {
  fs.writeFileSync(path.join(out, 'unsupported.txt'), unsupported.map((m) => m + '\n').join(''));
  await closeBrowser();
  server.close();
}
process.exit(status);
