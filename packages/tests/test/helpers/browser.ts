import * as fs from 'node:fs';
import type { Browser } from 'puppeteer-core';

/** Debian's Chromium, or CHROMIUM_PATH; undefined when there is none. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((file): file is string => file !== undefined && file !== '');
  return candidates.find((file) => fs.existsSync(file));
}

/**
 * Headless Chromium (puppeteer-core), or undefined where none is installed: the caller
 * skips, saying so. Under CI=true a missing Chromium is an error: CI installs it.
 */
export async function launchChromium(): Promise<Browser | undefined> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) {
    if (process.env.CI === 'true') throw new Error('no Chromium at /usr/bin/chromium: CI must install it (apt-get install chromium)');
    process.stdout.write('      (skipped: no Chromium here; apt-get install chromium, or set CHROMIUM_PATH)\n');
    return undefined;
  }
  const { launch } = await import('puppeteer-core');
  return launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}
