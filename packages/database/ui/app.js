// The cluster page: reads /ui/events (server-sent events) from the node that serves it and
// draws the mesh, a table of nodes, a chart of request rates, the balancer's backends and
// the latest changes. Plain browser JavaScript: no build step, nothing from elsewhere.
'use strict';

const KEY_STORE = 'meshkv-key';
const RATE_WINDOW_MS = 5000; // rates are taken over the last 5 s of figures
const CHART_MS = 5 * 60 * 1000;
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
/** Figures of every node seen, by URL: [{at, reads, writes, lagCount, lagSum}], oldest first. */
const figuresByUrl = new Map();
/** Cluster-wide reads/s and writes/s over time, for the chart. */
const chart = [];
let source;

function keyFromPage() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get('key');
  if (fromHash) {
    sessionStorage.setItem(KEY_STORE, fromHash);
    window.history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem(KEY_STORE) || '';
}

function setConnection(state, text) {
  const element = $('connection');
  element.dataset.connection = state;
  element.textContent = text;
}

/** Asks the node whether the key will do (HEAD /ui/events), then opens the stream. */
async function connect() {
  const key = keyFromPage();
  const query = key ? `?key=${encodeURIComponent(key)}` : '';
  let status;
  try {
    status = (await fetch(`/ui/events${query}`, { method: 'HEAD', cache: 'no-store' })).status;
  } catch {
    setConnection('reconnecting', 'node unreachable: retrying');
    setTimeout(connect, 2000);
    return;
  }
  if (status === 401 || status === 403) {
    askForKey(status === 401 ? (key ? 'That key is not valid on this node.' : 'This node takes an API key (read scope, no tenant).') : 'That key may not read the whole node: use one with the read scope and no tenant.');
    return;
  }
  $('key-form').hidden = true;
  source?.close();
  source = new EventSource(`/ui/events${query}`);
  source.addEventListener('open', () => setConnection('live', 'live'));
  source.addEventListener('error', () => setConnection('reconnecting', 'connection lost: reconnecting'));
  source.addEventListener('picture', (event) => draw(JSON.parse(event.data)));
  source.addEventListener('changes', (event) => addChanges(JSON.parse(event.data)));
}

function askForKey(reason) {
  setConnection('refused', 'needs a key');
  $('key-reason').textContent = reason;
  $('key-form').hidden = false;
  $('key-input').focus();
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORE, $('key-input').value.trim());
  $('key-input').value = '';
  connect();
});

/** Every node of a picture: this one first, then its peers as it sees them. */
function nodesOf(picture) {
  const self = { url: picture.self.url, nodeId: picture.self.nodeId, state: 'self', shownState: 'alive', ready: picture.self.ready, lastContactMs: 0, outbox: picture.self.load.outbox, load: picture.self.load, self: true };
  const peers = picture.peers.map((peer) => ({ ...peer, shownState: peer.state, self: false }));
  return [self, ...peers];
}

function remember(at, node) {
  if (!node.load) return;
  let figures = figuresByUrl.get(node.url);
  if (!figures) figuresByUrl.set(node.url, (figures = []));
  const last = figures[figures.length - 1];
  if (last && last.reads === node.load.reads && last.writes === node.load.writes && last.lagCount === node.load.lagCount && at - last.at < RATE_WINDOW_MS) return;
  figures.push({ at, ...node.load });
  while (figures.length > 2 && at - figures[1].at > RATE_WINDOW_MS) figures.shift();
}

/** reads/s, writes/s and mean replication lag (ms) of a node over the last few seconds. */
function ratesOf(url) {
  const figures = figuresByUrl.get(url);
  if (!figures || figures.length < 2) return undefined;
  const first = figures[0];
  const last = figures[figures.length - 1];
  const seconds = (last.at - first.at) / 1000;
  if (seconds <= 0) return undefined;
  const batches = last.lagCount - first.lagCount;
  return {
    reads: Math.max(0, last.reads - first.reads) / seconds,
    writes: Math.max(0, last.writes - first.writes) / seconds,
    lagMs: batches > 0 ? ((last.lagSum - first.lagSum) / batches) * 1000 : undefined,
  };
}

function draw(picture) {
  const nodes = nodesOf(picture);
  for (const node of nodes) remember(picture.at, node);
  $('served-by').textContent = `served by ${picture.self.nodeId} (${picture.self.url}), MeshKV ${picture.self.version}`;
  drawMesh(nodes);
  drawTable(nodes);
  drawRates(picture.at, nodes);
  drawBalancer(picture.balancer);
}

function short(id) {
  return id ? id.slice(0, 8) : '?';
}

function drawMesh(nodes) {
  const svg = $('mesh');
  svg.replaceChildren();
  const cx = 200;
  const cy = 160;
  const radius = nodes.length === 1 ? 0 : 115;
  const places = nodes.map((node, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / nodes.length;
    return { node, x: cx + radius * Math.cos(angle), y: cy + radius * Math.sin(angle) };
  });
  // A full mesh: every node talks to every other. The links of the serving node are drawn
  // in the state it sees; the others as plain lines (what the peers see is theirs to tell).
  for (let i = 0; i < places.length; i++) {
    for (let j = i + 1; j < places.length; j++) {
      const a = places[i];
      const b = places[j];
      const line = document.createElementNS(SVG, 'line');
      line.setAttribute('x1', a.x);
      line.setAttribute('y1', a.y);
      line.setAttribute('x2', b.x);
      line.setAttribute('y2', b.y);
      const seen = a.node.self ? b.node.shownState : b.node.self ? a.node.shownState : a.node.shownState === 'down' || b.node.shownState === 'down' ? 'down' : '';
      line.setAttribute('class', `link ${seen}`);
      svg.appendChild(line);
    }
  }
  for (const { node, x, y } of places) {
    const group = document.createElementNS(SVG, 'g');
    group.setAttribute('class', `node ${node.self ? 'self' : node.shownState}`);
    group.dataset.nodeUrl = node.url;
    group.dataset.state = node.shownState;
    const circle = document.createElementNS(SVG, 'circle');
    circle.setAttribute('cx', x);
    circle.setAttribute('cy', y);
    circle.setAttribute('r', 30);
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${node.url} — ${node.self ? 'this node' : node.state}`;
    const name = document.createElementNS(SVG, 'text');
    name.setAttribute('x', x);
    name.setAttribute('y', y - 2);
    name.textContent = short(node.nodeId);
    const figures = document.createElementNS(SVG, 'text');
    figures.setAttribute('x', x);
    figures.setAttribute('y', y + 12);
    figures.setAttribute('class', 'figures');
    figures.textContent = node.load ? `${node.load.records} rec` : node.state;
    group.append(title, circle, name, figures);
    svg.appendChild(group);
  }
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function number(value, digits = 0) {
  return value === undefined || value === null ? '–' : Number(value).toLocaleString('en', { maximumFractionDigits: digits });
}

function drawTable(nodes) {
  const body = $('nodes').tBodies[0];
  body.replaceChildren();
  for (const node of nodes) {
    const rates = ratesOf(node.url);
    const row = document.createElement('tr');
    row.dataset.nodeUrl = node.url;
    row.dataset.state = node.shownState;
    row.append(
      cell(short(node.nodeId)),
      cell(node.url),
      cell(node.self ? 'this node' : node.state, `state ${node.self ? 'self' : node.state}`),
      cell(node.ready ? 'yes' : 'no'),
      cell(number(node.load?.records), 'n'),
      cell(number(node.load?.outbox), 'n'),
      cell(rates?.lagMs === undefined ? '–' : `${number(rates.lagMs, 1)} ms`, 'n'),
      cell(number(rates?.reads, 1), 'n'),
      cell(number(rates?.writes, 1), 'n'),
      cell(node.self ? '–' : node.lastContactMs === null ? 'never' : `${number(node.lastContactMs / 1000, 1)} s`, 'n'),
    );
    body.appendChild(row);
  }
}

function drawRates(at, nodes) {
  let reads = 0;
  let writes = 0;
  for (const node of nodes) {
    if (node.shownState === 'down') continue;
    const rates = ratesOf(node.url);
    if (rates) {
      reads += rates.reads;
      writes += rates.writes;
    }
  }
  chart.push({ at, reads, writes });
  while (chart.length > 0 && at - chart[0].at > CHART_MS) chart.shift();
  const canvas = $('rates');
  const scale = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 760;
  const height = canvas.clientHeight || 180;
  canvas.width = width * scale;
  canvas.height = height * scale;
  const g = canvas.getContext('2d');
  g.scale(scale, scale);
  g.clearRect(0, 0, width, height);
  const top = Math.max(1, ...chart.map((point) => Math.max(point.reads, point.writes)));
  const left = 56;
  const plotHeight = height - 20;
  g.strokeStyle = '#dde2e8';
  g.fillStyle = '#6b7480';
  g.font = '11px system-ui, sans-serif';
  for (const fraction of [0, 0.5, 1]) {
    const y = 6 + plotHeight * (1 - fraction);
    g.beginPath();
    g.moveTo(left, y);
    g.lineTo(width, y);
    g.stroke();
    g.fillText(number(top * fraction, top < 10 ? 1 : 0), 4, y + 4);
  }
  const x = (point) => left + ((point.at - (at - CHART_MS)) / CHART_MS) * (width - left);
  const y = (value) => 6 + plotHeight * (1 - value / top);
  for (const [field, color] of [['reads', '#2f6fd1'], ['writes', '#d89b1a']]) {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    chart.forEach((point, i) => (i === 0 ? g.moveTo(x(point), y(point[field])) : g.lineTo(x(point), y(point[field]))));
    g.stroke();
  }
}

function drawBalancer(balancer) {
  $('balancer-panel').hidden = !balancer;
  if (!balancer) return;
  $('balancer-url').textContent = balancer.url;
  $('balancer-error').hidden = !balancer.error;
  $('balancer-error').textContent = balancer.error || '';
  const body = $('backends').tBodies[0];
  body.replaceChildren();
  for (const backend of balancer.backends) {
    const row = document.createElement('tr');
    row.dataset.backend = backend.name;
    row.dataset.state = backend.state;
    row.append(cell(backend.name), cell(backend.address), cell(backend.state, `state ${backend.state}`), cell(number(backend.active), 'n'), cell(number(backend.total), 'n'));
    body.appendChild(row);
  }
}

function addChanges(changes) {
  const list = $('changes');
  for (const change of changes) {
    const item = document.createElement('li');
    const time = document.createElement('span');
    time.textContent = `${new Date(change.at).toLocaleTimeString()} `;
    const op = document.createElement('span');
    op.className = 'op';
    op.textContent = change.op;
    const key = document.createElement('span');
    key.textContent = change.key === undefined ? '(every key)' : JSON.stringify(change.key);
    const origin = document.createElement('span');
    origin.className = 'origin';
    origin.textContent = ` ${change.origin}`;
    item.append(time, op, key, origin);
    list.prepend(item);
  }
  while (list.children.length > 50) list.lastChild.remove();
}

connect();
