// dashboard_live.mjs BASE_URL OUT
//
// The dashboard (web/app.js) in Debian's headless Chromium, driven by
// puppeteer-core, signed in with $HARK_TOKEN (put in the tab's
// sessionStorage before the page runs, as its token form would). Once the
// page says it is live (its EventSource on /v1/events is open, with a
// stream ticket), the job named by $HARK_JOB_FILE's contents (written by the
// test after "live" appears in OUT.status) must show up and reach
// "succeeded" in the page's table. Writes OUT.status (the page's status
// line, when it first said live), OUT.state (the job's last state shown)
// and OUT.console; exits 0 once the job's row said succeeded, 1 if not
// within 60 s or if the browser could not be driven.
import fs from 'node:fs';
import { launchChromium } from './chromium.mjs';

const [base, out] = process.argv.slice(2);
const token = process.env.HARK_TOKEN || '';
const jobFile = process.env.HARK_JOB_FILE;
const { browser, close: closeBrowser } = await launchChromium();
const lines = [];
let status = 1;
try {
  const page = await browser.newPage();
  page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  await page.evaluateOnNewDocument((t) => sessionStorage.setItem('hark.token', t), token);
  await page.goto(base + '/');
  await page.waitForFunction(() => document.getElementById('conn').textContent.startsWith('live'),
    { timeout: 30000 });
  fs.writeFileSync(out + '.status', await page.$eval('#conn', (e) => e.textContent) + '\n');
  let job = '';
  for (let i = 0; i < 600 && !job; i++) {
    if (fs.existsSync(jobFile)) job = fs.readFileSync(jobFile, 'utf8').trim();
    if (!job) await new Promise((r) => setTimeout(r, 50));
  }
  const stateOf = (id) => {
    for (const tr of document.querySelectorAll('#jobs tr')) {
      if (tr.querySelector('.id').textContent === id) return tr.querySelector('.state').textContent;
    }
    return '';
  };
  try {
    await page.waitForFunction(stateOf, { timeout: 60000, polling: 100 }, job);
    await page.waitForFunction((id) => {
      for (const tr of document.querySelectorAll('#jobs tr')) {
        if (tr.querySelector('.id').textContent === id) {
          return tr.querySelector('.state').textContent === 'succeeded';
        }
      }
      return false;
    }, { timeout: 60000, polling: 100 }, job);
    status = 0;
  } finally {
    fs.writeFileSync(out + '.state', (await page.evaluate(stateOf, job)) + '\n');
  }
} catch (e) {
  lines.push(`error: ${e.message}`);
} finally {
  fs.writeFileSync(out + '.console', lines.join('\n') + '\n');
  await closeBrowser();
}
process.exit(status);
