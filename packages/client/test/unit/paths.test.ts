import { expect } from 'chai';
import { paths } from '../../src/paths';

describe('request targets', () => {
  it('percent-encodes keys and values as UTF-8, and adds w and wtimeout only when given', () => {
    expect(paths.set('a b/c', 'Zürich & 𤭢')).to.equal('/set?k=a%20b%2Fc&v=Z%C3%BCrich%20%26%20%F0%A4%AD%A2');
    expect(paths.set('k', '', { w: 'all', wtimeout: 250 })).to.equal('/set?k=k&v=&w=all&wtimeout=250');
    expect(paths.get('__proto__')).to.equal('/get?k=__proto__');
    expect(paths.is('%')).to.equal('/is?k=%25');
    expect(paths.rm('k', { w: 2 })).to.equal('/rm?k=k&w=2');
  });

  it('builds /clear with or without a write concern', () => {
    expect(paths.clear()).to.equal('/clear');
    expect(paths.clear({})).to.equal('/clear');
    expect(paths.clear({ w: 'all' })).to.equal('/clear?w=all');
    expect(paths.clear({ wtimeout: 5 })).to.equal('/clear?wtimeout=5');
  });

  it('names the listing, health, status and nkvd ping routes', () => {
    expect([paths.keys(), paths.values(), paths.all(), paths.healthcheck(), paths.status(), paths.index()]).to.deep.equal(['/getKeys', '/getValues', '/getAll', '/healthcheck', '/status', '/']);
    expect(paths.nkvdPing([])).to.equal('/ping');
    expect(paths.nkvdPing(['a:1', 'b:2'])).to.equal('/ping?nodes=a%3A1%7Cb%3A2');
  });

  it('builds the v2 targets: ttl, expiry, meta, scans, /kv/{key} and /batch', () => {
    expect(paths.set('k', 'v', { ttl: '30s', w: 'all' })).to.equal('/set?k=k&v=v&ttl=30s&w=all');
    expect(paths.set('k', 'v', { ttl: 5000 })).to.equal('/set?k=k&v=v&ttl=5000');
    expect(paths.expire('a b', '5m', { w: 2 })).to.equal('/expire?k=a%20b&ttl=5m&w=2');
    expect(paths.persist('k')).to.equal('/persist?k=k');
    expect(paths.ttl('k')).to.equal('/ttl?k=k');
    expect(paths.meta('k')).to.equal('/meta?k=k');
    expect(paths.meta('k', true)).to.equal('/meta?k=k&v=1');
    expect(paths.scan()).to.equal('/scan');
    expect(paths.scan({ prefix: 'a/', after: 'a/b', limit: 10 }, false)).to.equal('/scan?prefix=a%2F&after=a%2Fb&limit=10&values=0');
    expect(paths.keys('p/')).to.equal('/getKeys?prefix=p%2F');
    expect(paths.values('p')).to.equal('/getValues?prefix=p');
    expect(paths.all('')).to.equal('/getAll?prefix=');
    expect(paths.kv('a/b')).to.equal('/kv/a%2Fb');
    expect(paths.kv('k', { ttl: '1h', w: 'majority', wtimeout: 9 })).to.equal('/kv/k?ttl=1h&w=majority&wtimeout=9');
    expect(paths.batch()).to.equal('/batch');
    expect(paths.batch({ w: 'all' })).to.equal('/batch?w=all');
  });
});
