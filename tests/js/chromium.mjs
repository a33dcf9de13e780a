// chromium.mjs - the tests' headless Chromium (puppeteer-core driving
// Debian's chromium, or HARK_CHROMIUM) on a closed network: no background
// connections, no first-run work, no component updates (they stall or
// fail here), a fresh profile removed by close().
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

// launchChromium(extraArgs): { browser, close }; extraArgs are the test's
// own switches (a fake microphone, autoplay).
export async function launchChromium(extraArgs = []) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hark-chromium-'));
  const removeProfile = () => fs.rmSync(profile, { recursive: true, force: true });
  let browser;
  try {
    browser = await puppeteer.launch({
      executablePath: process.env.HARK_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        ...extraArgs, `--user-data-dir=${profile}`],
    });
  } catch (e) {
    removeProfile();
    throw e;
  }
  return {
    browser,
    close: async () => {
      await browser.close();
      removeProfile();
    },
  };
}
