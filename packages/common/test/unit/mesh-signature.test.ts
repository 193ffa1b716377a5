import { expect } from 'chai';
import { parseMeshSignature, signatureMatches, signMeshRequest } from '../../src/mesh-signature';

describe('mesh request signatures', () => {
  const parts = { method: 'POST', path: '/_mesh/replicate', body: '{"records":[]}' };

  it('signs method, path, time, nonce and body, and never carries the secret', () => {
    const header = signMeshRequest('s3cret', parts, 1_700_000_000_000, 'nonce-0001');
    expect(header).to.match(/^MeshKV-HMAC-SHA256 t=1700000000000,n=nonce-0001,b=[\w-]{43},s=[\w-]{43}$/);
    expect(header).not.to.contain('s3cret');
    const parsed = parseMeshSignature(header);
    expect(parsed).to.include({ time: 1_700_000_000_000, nonce: 'nonce-0001' });
    expect(signatureMatches('s3cret', 'POST', '/_mesh/replicate', parsed!)).to.equal(true);
    expect(signatureMatches('other', 'POST', '/_mesh/replicate', parsed!)).to.equal(false);
    expect(signatureMatches('s3cret', 'POST', '/_mesh/pull', parsed!)).to.equal(false);
    expect(signatureMatches('s3cret', 'GET', '/_mesh/replicate', parsed!)).to.equal(false);
  });

  it('reads only well-formed headers', () => {
    for (const bad of [undefined, '', 'Bearer s3cret', 'MeshKV-HMAC-SHA256 t=x,n=abcdefgh,b=a,s=b', `${signMeshRequest('s', parts)} extra`]) {
      expect(parseMeshSignature(bad), String(bad)).to.equal(undefined);
    }
    expect(signMeshRequest('s', parts)).not.to.equal(signMeshRequest('s', parts)); // a new nonce each time
  });

  it('gives every request a nonce of its own, across draws of random bytes', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const parsed = parseMeshSignature(signMeshRequest('s', parts));
      expect(parsed?.nonce).to.match(/^[A-Za-z0-9_-]{16}$/);
      nonces.add(parsed?.nonce ?? '');
    }
    expect(nonces.size).to.equal(2000);
  });
});
