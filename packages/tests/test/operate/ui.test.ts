import { expect } from 'chai';
import * as path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { NodeProcess } from '../../src/cluster/node-process';
import { launchChromium } from '../helpers/browser';
import { isFullMesh, SCENARIO_ENV, waitFor } from '../helpers/mesh';

const ADMIN_KEY = 'ui-scenario-admin-key-0123456789';


/**
 * The cluster page in a real browser (headless Chromium driven by puppeteer-core) against
 * three real node processes that require API keys: it shows three nodes alive; a node
 * killed shows suspect, then down; restarted, alive again. Where no Chromium is installed
 * the test says so and is skipped; CI installs it, and there it must run.
 * UI_SCREENSHOT=file saves a picture of the page (docs/ui.png is made so).
 */
describe('the cluster page /ui in Chromium (real node processes)', function () {
  this.timeout(120_000);
  const nodes: NodeProcess[] = [];
  let browser: Browser | undefined;
  let page: Page;

  before(async function () {
    browser = await launchChromium();
    if (browser === undefined) this.skip();
    for (let i = 0; i < 3; i++) {
      // Slower than the scenarios' timers, so the page is seen in each state for a while.
      const env = { ...SCENARIO_ENV, SUSPECT_AFTER_MS: '1500', DOWN_AFTER_MS: '4000', ADMIN_KEY, UI_INTERVAL_MS: '200', MESH_NETWORK_URL: i === 0 ? '' : (nodes[0] as NodeProcess).url };
      nodes.push(await NodeProcess.start(`ui-${i + 1}`, env));
    }
    await waitFor(() => isFullMesh(nodes), 10_000, 'a full mesh');
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
  });

  after(async () => {
    await browser?.close();
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
  });

  // Expressions run in the page (the tests are compiled without the DOM's types).
  const inPage = <T>(expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;
  const attribute = (selector: string, name: string): Promise<string | null> =>
    inPage(`document.querySelector(${JSON.stringify(selector)})?.getAttribute(${JSON.stringify(name)}) ?? null`);
  const shows = async (node: NodeProcess, state: string, within: number): Promise<void> => {
    await waitFor(async () => (await attribute(`tr[data-node-url="${node.url}"]`, 'data-state')) === state, within, `${node.name} shown ${state}`);
    expect(await attribute(`svg g.node[data-node-url="${node.url}"]`, 'data-state'), `${node.name} in the picture`).to.equal(state);
  };
  const texts = (selector: string): Promise<string[]> => inPage(`[...document.querySelectorAll(${JSON.stringify(selector)})].map((element) => element.textContent)`);

  it('asks for a key, then shows three nodes alive; a killed node suspect, then down; restarted, alive again', async () => {
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    await page.goto(`${a.url}/ui`, { waitUntil: 'load' });
    await page.waitForSelector('#key-form:not([hidden])', { timeout: 10_000 });
    expect(await attribute('#connection', 'data-connection')).to.equal('refused');
    await page.type('#key-input', ADMIN_KEY);
    await page.click('#key-form button');
    await page.waitForSelector('#connection[data-connection="live"]', { timeout: 10_000 });
    for (const node of nodes) await shows(node, 'alive', 10_000);
    expect(await texts('#nodes tbody tr')).to.have.length(3);

    // Writes show in the feed of changes and in the records of every node.
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${b.url}/set?k=ui-${i}&v=${i}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      expect(res.status).to.equal(200);
    }
    await waitFor(async () => (await texts('#changes li')).some((text) => text.includes('"ui-4"')), 10_000, 'the writes in the feed of changes');
    await waitFor(async () => (await texts('#nodes tbody tr td:nth-child(5)')).every((text) => text === '5'), 10_000, 'every node shown with 5 records');
    if (process.env.UI_SCREENSHOT !== undefined) await page.screenshot({ path: path.resolve(process.env.UI_SCREENSHOT) });

    await c.crash();
    await shows(c, 'suspect', 10_000);
    await shows(c, 'down', 10_000);
    await c.restart();
    await shows(c, 'alive', 15_000);
    await shows(b, 'alive', 1_000);
  });
});
