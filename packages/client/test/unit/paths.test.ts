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
});
