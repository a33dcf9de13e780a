// browser_seek.mjs BASE_URL MEDIA_PATH audio|video SEEK_S
//
// A browser's media element on a job's artifact (a highlights clip, served
// with Range support): Debian's headless Chromium, driven by puppeteer-core,
// opens BASE_URL/healthz (same origin), makes an <audio> or <video> element
// with src = MEDIA_PATH, waits for its metadata, checks the element calls
// the whole clip seekable (Chromium does so only when the server answers
// Range requests), seeks to SEEK_S and waits for the seek to finish.
// Prints one JSON line: {"duration", "seekable_end", "seeked_to", "error"}.
// $HARK_TOKEN, when set, goes along as a cookie-less Authorization header
// through request interception (a media element cannot send one itself).
// Exits 0 when the page ran, 1 if the browser could not be driven.
import fs from 'node:fs';
import { launchChromium } from './chromium.mjs';

const [base, media, kind, seekArg] = process.argv.slice(2);
const seekTo = Number(seekArg);
const token = process.env.HARK_TOKEN || '';
const { browser, close: closeBrowser } =
  await launchChromium(['--autoplay-policy=no-user-gesture-required']);
let status = 0;
try {
  const page = await browser.newPage();
  if (token) {
    await page.setRequestInterception(true);
    page.on('request', (r) => r.continue({ headers: { ...r.headers(), authorization: `Bearer ${token}` } }));
  }
  await page.goto(`${base}/healthz`);
  const result = await page.evaluate(async (media, kind, seekTo) => {
    const el = document.createElement(kind);
    el.preload = 'auto';
    el.muted = true;
    document.body.appendChild(el);
    const once = (name) => new Promise((resolve, reject) => {
      el.addEventListener(name, resolve, { once: true });
      el.addEventListener('error', () => reject(new Error(`media error ${el.error && el.error.code}`)), { once: true });
    });
    const out = { duration: null, seekable_end: null, seeked_to: null, error: null };
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 30000));
    try {
      const meta = once('loadedmetadata');
      el.src = media;
      await Promise.race([meta, timeout]);
      out.duration = el.duration;
      out.seekable_end = el.seekable.length ? el.seekable.end(el.seekable.length - 1) : 0;
      const seeked = once('seeked');
      el.currentTime = seekTo;
      await Promise.race([seeked, timeout]);
      out.seeked_to = el.currentTime;
    } catch (e) {
      out.error = String(e.message || e);
    }
    return out;
  }, media, kind, seekTo);
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(`browser_seek: ${e.message}`);
  status = 1;
} finally {
  await closeBrowser();
}
process.exit(status);
