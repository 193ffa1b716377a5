import { expect } from 'chai';
import { MAX_LEARNED_PER_SECOND, MAX_UNKNOWN_PEERS, Membership, type NodeInfo } from '../../../src/mesh/membership';

const timers = { suspectAfterMs: 100, downAfterMs: 300, forgetAfterMs: 1000 };
const me: NodeInfo = { nodeId: 'me', url: 'http://me:1', incarnation: 1, ready: true };
const b: NodeInfo = { nodeId: 'b', url: 'http://b:1', incarnation: 5, ready: true };

describe('Membership', () => {
  let now: number;
  let table: Membership;
  let events: string[];
  beforeEach(() => {
    now = 1_000_000;
    table = new Membership(() => me, timers, () => now);
    events = [];
    for (const name of ['join', 'recover', 'restart', 'down', 'forget', 'leave'] as const) {
      table.on(name, (peer) => events.push(`${name}:${peer.url}`));
    }
  });

  it('makes a peer alive on direct contact, and ignores itself', () => {
    table.contact(b);
    table.contact(me);
    table.contact({ ...me, url: 'http://elsewhere:1' });
    expect(table.alive().map((p) => p.url)).to.deep.equal([b.url]);
    expect(events).to.deep.equal(['join:http://b:1']);
  });

  it('holds a bounded number of peers it has only heard of, however many a ping names', () => {
    table.contact(b);
    const flood = Array.from({ length: 10_000 }, (_, i) => ({ url: `http://10.0.${Math.floor(i / 250)}.${i % 250}:8100` }));
    const unknown = (): number => table.list().filter((peer) => peer.nodeId === undefined).length;
    table.hear(flood);
    table.hear(flood.slice(5000));
    expect(unknown(), 'learned in one second').to.equal(MAX_LEARNED_PER_SECOND);
    now += 1000;
    table.hear(flood.slice(2000));
    now += 1000;
    table.hear(flood.slice(3000));
    expect(unknown(), 'held at once').to.equal(MAX_UNKNOWN_PEERS);
    expect(table.get(b.url)?.state).to.equal('alive');
    // Once they are forgotten (never answered), room is made for others.
    now += 1000;
    table.contact(b);
    table.evaluate();
    table.hear([{ url: 'http://new:1' }]);
    expect(table.list().filter((peer) => peer.nodeId === undefined).map((peer) => peer.url)).to.deep.equal(['http://new:1']);
  });

  it('ages a silent peer to suspect, down, then forgets it', () => {
    table.contact(b);
    now += 99;
    table.evaluate();
    expect(table.get(b.url)?.state).to.equal('alive');
    now += 1;
    table.evaluate();
    expect(table.get(b.url)?.state).to.equal('suspect');
    expect(table.alive()).to.deep.equal([]);
    now += 200;
    table.evaluate();
    table.evaluate();
    expect(table.get(b.url)?.state).to.equal('down');
    now += 700;
    table.evaluate();
    expect(table.get(b.url)).to.equal(undefined);
    expect(events).to.deep.equal(['join:http://b:1', 'down:http://b:1', 'forget:http://b:1']);
  });

  it('brings a suspect or down peer back at once when it answers', () => {
    table.contact(b);
    now += 500;
    table.evaluate();
    table.contact(b);
    expect(table.get(b.url)?.state).to.equal('alive');
    expect(events).to.deep.equal(['join:http://b:1', 'down:http://b:1', 'recover:http://b:1']);
  });

  it('replaces a restarted peer (higher incarnation or new id at one URL), ignores older lives', () => {
    table.contact(b);
    table.contact({ ...b, incarnation: 4, nodeId: 'ghost' });
    expect(table.get(b.url)?.nodeId).to.equal('b');
    table.contact({ ...b, incarnation: 6, nodeId: 'b2', ready: false });
    expect(table.get(b.url)).to.include({ nodeId: 'b2', incarnation: 6, ready: false, state: 'alive' });
    expect(events).to.deep.equal(['join:http://b:1', 'restart:http://b:1']);
  });

  it('moves a node id that shows up at a new URL', () => {
    table.contact(b);
    table.contact({ ...b, url: 'http://b-new:1', incarnation: 6 });
    expect(table.list().map((p) => p.url)).to.deep.equal(['http://b-new:1']);
    expect(events).to.deep.equal(['join:http://b:1', 'forget:http://b:1', 'join:http://b-new:1']);
  });

  it('adds peers heard of second hand as suspects to ping, forgetting them soon if they never answer', () => {
    table.hear([{ url: 'http://c:1' }, { url: me.url }, { url: 'http://c:1' }]);
    expect(table.list().map((p) => [p.url, p.state, p.nodeId])).to.deep.equal([['http://c:1', 'suspect', undefined]]);
    expect(table.gossip()).to.deep.equal([]);
    now += 300;
    table.evaluate();
    expect(table.list()).to.deep.equal([]);
    table.hear([{ url: 'http://c:1' }]);
    table.contact({ nodeId: 'c', url: 'http://c:1', incarnation: 1, ready: true });
    expect(table.alive().map((p) => p.nodeId)).to.deep.equal(['c']);
    expect(events).to.deep.equal(['forget:http://c:1', 'join:http://c:1']);
  });

  it('gossips only peers heard from lately', () => {
    table.contact(b);
    now += 200;
    table.contact({ nodeId: 'c', url: 'http://c:1', incarnation: 1, ready: true });
    table.evaluate();
    expect(table.gossip().map((p) => [p.url, p.state])).to.deep.equal([
      ['http://b:1', 'suspect'],
      ['http://c:1', 'alive'],
    ]);
    now += 200;
    table.evaluate();
    expect(table.gossip().map((p) => p.url)).to.deep.equal(['http://c:1']);
  });

  it('believes an incoming ping only when it is the member already known; anything new is to be verified', () => {
    expect(table.claim(b)).to.equal('verify');
    expect(table.members()).to.deep.equal([]);
    table.contact(b);
    expect(table.claim(b)).to.equal('taken');
    expect(table.claim({ ...b, nodeId: 'forged', incarnation: 99 })).to.equal('verify');
    expect(table.claim({ ...b, incarnation: 6 })).to.equal('verify');
    expect(table.claim({ ...b, leaving: true })).to.equal('verify');
    expect(table.claim({ ...b, incarnation: 4 })).to.equal('ignored');
    expect(table.claim(me)).to.equal('ignored');
    expect(table.get(b.url)).to.include({ nodeId: 'b', incarnation: 5 });
  });

  it('removes a member that answers as leaving, keeps out gossip of it, and takes it back when it answers again', () => {
    table.contact(b);
    table.contact({ ...b, leaving: true });
    expect(table.members()).to.deep.equal([]);
    expect(events).to.deep.equal(['join:http://b:1', 'leave:http://b:1']);
    table.hear([{ url: b.url }]);
    expect(table.list()).to.deep.equal([]);
    expect(table.seen(b.url)).to.deep.include({ nodeId: 'b', incarnation: 5 });
    table.contact({ ...b, incarnation: 2 });
    expect(table.members().map((p) => p.incarnation)).to.deep.equal([2]);
  });

  it('counts as members the peers that answered, whatever their state', () => {
    table.contact(b);
    table.hear([{ url: 'http://c:1' }]);
    now += 400;
    table.evaluate();
    expect(table.members().map((p) => [p.url, p.state])).to.deep.equal([[b.url, 'down']]);
  });
});
