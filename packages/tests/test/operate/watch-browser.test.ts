import { expect } from 'chai';
import type { Browser, Page } from 'puppeteer-core';
import { NodeProcess } from '../../src/cluster/node-process';
import { launchChromium } from '../helpers/browser';
import { Clients, isFullMesh, SCENARIO_ENV, waitFor } from '../helpers/mesh';

/**
 * A page using the browser's own EventSource against a node (headless Chromium from
 * Debian, driven by puppeteer-core): it receives the changes written on another node, and
 * when its node restarts, the browser reconnects by itself with Last-Event-ID and is told
 * CURSOR_EXPIRED (its id is from before the restart). Skipped, saying so, where no
 * Chromium is installed; CI installs it, and there it must run.
 */
describe('a page watching with EventSource in Chromium (real node processes)', function () {
  this.timeout(60_000);
  const nodes: NodeProcess[] = [];
  const clients = new Clients();
  let browser: Browser | undefined;
  let page: Page;

  before(async function () {
    browser = await launchChromium();
    if (browser === undefined) this.skip();
    for (let i = 0; i < 2; i++) nodes.push(await NodeProcess.start(`watch-${i + 1}`, { ...SCENARIO_ENV, MESH_NETWORK_URL: i === 0 ? '' : (nodes[0] as NodeProcess).url }));
    await waitFor(() => isFullMesh(nodes), 10_000, 'a full mesh');
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await clients.close();
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
  });

  const inPage = <T>(expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;
  const received = (): Promise<{ type: string; k?: string; v?: string; id?: string; error?: string; lastEventId?: string }[]> => inPage('window.received');

  it('receives the changes of its prefix, written on another node, and CURSOR_EXPIRED after its node restarts', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    // A page of the node's own origin (its /healthcheck), running a small script.
    await page.goto(`${a.url}/healthcheck`);
    await inPage(`(() => {
      window.received = [];
      window.source = new EventSource('/watch?prefix=b');
      window.source.onmessage = (event) => window.received.push({ ...JSON.parse(event.data), lastEventId: event.lastEventId });
      return true;
    })()`);
    await waitFor(async () => (await received()).length === 1, 5000, 'the open event');
    await clients.get(b.url, '/set?k=b1&v=one');
    await clients.get(b.url, '/set?k=other&v=x');
    await clients.get(b.url, '/set?k=b2&v=two');
    await clients.get(b.url, '/rm?k=b1');
    await waitFor(async () => (await received()).length === 4, 5000, 'three changes');
    const events = await received();
    expect(events.slice(1).map((e) => [e.type, e.k, e.v])).to.deep.equal([['set', 'b1', 'one'], ['set', 'b2', 'two'], ['rm', 'b1', undefined]]);
    for (const event of events) expect(event.lastEventId).to.equal(event.id);

    await a.stop();
    await a.restart();
    // EventSource retries after the stream's retry: (2 s), sending Last-Event-ID: an id of a.'s previous run.
    await waitFor(async () => (await received()).some((e) => e.type === 'error'), 15_000, 'the browser to reconnect');
    expect((await received()).at(-1)).to.include({ type: 'error', error: 'CURSOR_EXPIRED' });
    await inPage('window.source.close()');
  });
});
