import { expect } from 'chai';
import { call, clientOf, RUN, SERVICE_URL, skipUnlessListed } from './api';

/**
 * What operators use, against SERVICE_URL: /metrics in Prometheus' text format (counting
 * this suite's own requests), the cluster page and its files, and a picture of the cluster
 * from /ui/events through the typed client. Skipped, saying so, by a service whose index
 * does not list /metrics.
 */
describe(`MeshKV metrics and cluster page at ${SERVICE_URL}`, function () {
  this.timeout(20_000);
  const client = clientOf(SERVICE_URL);

  before(async function () {
    await skipUnlessListed(this, '/metrics', 'metrics and page checks');
  });
  after(() => client.close());

  it('/metrics: the text format, with requests by route, method and status and the records', async () => {
    await client.set(`${RUN}-metrics`, 'v');
    const answer = await call('/metrics');
    expect(answer.status).to.equal(200);
    expect(answer.header('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    expect(answer.text).to.include('# TYPE meshkv_http_request_duration_seconds histogram');
    expect(answer.text).to.match(/^meshkv_http_request_duration_seconds_count\{route="\/set",method="GET",status="200"\} [1-9]/m);
    expect(answer.text).to.match(/^meshkv_records \d+$/m);
    expect(answer.text).to.match(/^meshkv_peers\{state="alive"\} \d+$/m);
    expect(await client.metrics()).to.include('meshkv_node_info');
  });

  it('/ui: the page and its files, which load nothing from elsewhere', async () => {
    const page = await call('/ui');
    expect(page.status).to.equal(200);
    expect(page.header('content-type')).to.equal('text/html; charset=utf-8');
    for (const file of ['/ui/app.js', '/ui/app.css']) {
      const answer = await call(file);
      expect(answer.status, file).to.equal(200);
      expect(answer.text, `${file} loads nothing from another host`).to.not.match(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    expect(page.text).to.not.match(/(src|href)="https?:/);
    expect((await call('/ui/none.js')).status).to.equal(404);
  });

  it('/ui/events: a picture of the cluster, the node and its peers with their figures', async () => {
    const picture = await client.clusterPicture();
    expect(picture.self.nodeId).to.be.a('string');
    expect(picture.self.load.records).to.be.a('number');
    for (const peer of picture.peers) expect(['alive', 'suspect', 'down']).to.include(peer.state);
  });
});
