import { expect } from 'chai';
import { Registry } from 'prom-client';
import { Buckets } from '../../src/buckets';
import { counterOf, gaugeOf, MetricsPage } from '../../src/metrics';

describe('Buckets', () => {
  it('counts a value in the first bucket whose bound holds it, +Inf past the last, with sum and count', () => {
    const buckets = new Buckets([0.1, 1]);
    for (const value of [0.05, 0.1, 0.5, 1, 7]) buckets.observe(value);
    expect([...buckets.counts]).to.deep.equal([2, 2, 1]);
    expect(buckets.count).to.equal(5);
    expect(buckets.sum).to.be.closeTo(8.65, 1e-9);
  });
});

describe('metrics for Prometheus', () => {
  it('writes a histogram from its buckets after the registry: cumulative buckets, +Inf, sum and count, per label set', async () => {
    const registry = new Registry();
    counterOf({ name: 'test_first_total', help: 'First.', registry }, () => 1);
    const page = new MetricsPage(registry);
    const fast = new Buckets([0.1, 1]);
    const slow = new Buckets([0.1, 1]);
    fast.observe(0.05);
    fast.observe(0.5);
    slow.observe(3);
    page.addBuckets({ name: 'test_duration_seconds', help: 'A test, with a \\ and\na new line.', series: () => [
      { labels: { route: '/a' }, buckets: fast },
      { labels: { route: '/"b"' }, buckets: slow },
    ] });
    const text = await page.render();
    expect(page.contentType).to.match(/^text\/plain; version=0\.0\.4/);
    expect(text.indexOf('test_first_total 1')).to.be.lessThan(text.indexOf('test_duration_seconds'));
    expect(text).to.include('# HELP test_duration_seconds A test, with a \\\\ and\\na new line.');
    expect(text).to.include('# TYPE test_duration_seconds histogram');
    expect(text).to.include('test_duration_seconds_bucket{route="/a",le="0.1"} 1');
    expect(text).to.include('test_duration_seconds_bucket{route="/a",le="1"} 2');
    expect(text).to.include('test_duration_seconds_bucket{route="/a",le="+Inf"} 2');
    expect(text).to.include('test_duration_seconds_sum{route="/a"} 0.55');
    expect(text).to.include('test_duration_seconds_count{route="/a"} 2');
    expect(text).to.include('test_duration_seconds_bucket{route="/\\"b\\"",le="1"} 0');
    expect(text).to.include('test_duration_seconds_count{route="/\\"b\\""} 1');
  });

  it('reads gauges and counters when scraped, once or per label set, and forgets label sets gone', async () => {
    const registry = new Registry();
    let total = 3;
    let peers: [string, number][] = [['a', 1], ['b', 2]];
    counterOf({ name: 'test_things_total', help: 'Things.', registry }, () => total);
    gaugeOf({ name: 'test_peers', help: 'Peers.', labelNames: ['peer'], registry }, () => peers.map(([peer, n]) => [{ peer }, n] as const));
    let text = await registry.metrics();
    expect(text).to.include('test_things_total 3').and.include('test_peers{peer="a"} 1').and.include('test_peers{peer="b"} 2');
    total = 5;
    peers = [['b', 4]];
    text = await registry.metrics();
    expect(text).to.include('test_things_total 5').and.include('test_peers{peer="b"} 4').and.not.include('peer="a"');
  });
});
