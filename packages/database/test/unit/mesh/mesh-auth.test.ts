import { signMeshRequest } from '@meshkv/common';
import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { MeshAuth, REPLAY_WINDOW_MS } from '../../../src/mesh/auth';

const SECRET = 'mesh-auth-test-secret';
const START = 1_800_000_000_000;

/** A nonce of the signature's form (8 characters or more). */
const nonce = (i: number): string => `nonce-${String(i).padStart(6, '0')}`;

/** A signed request as the auth hook sees it: method, path and Authorization header. */
function signed(time: number, nonceText: string, secret = SECRET): IncomingMessage {
  const authorization = signMeshRequest(secret, { method: 'POST', path: '/_mesh/replicate', body: '{}' }, time, nonceText);
  return { method: 'POST', url: '/_mesh/replicate', headers: { authorization } } as unknown as IncomingMessage;
}

describe('MeshAuth', () => {
  let now: number;
  const clock = (): number => now;

  beforeEach(() => {
    now = START;
  });

  it('takes a request signed with the secret once, and refuses it again within the window', () => {
    const auth = new MeshAuth(SECRET, clock);
    expect(auth.refusal(signed(now, 'nonce-aaaa'))).to.equal(undefined);
    now += REPLAY_WINDOW_MS - 1;
    expect(auth.refusal(signed(START, 'nonce-aaaa'))).to.equal('UNAUTHORIZED');
    expect(auth.refusal(signed(now, 'nonce-bbbb', 'another secret'))).to.equal('UNAUTHORIZED');
    expect(auth.refusal(signed(now - REPLAY_WINDOW_MS - 1, 'nonce-cccc'))).to.equal('STALE_SIGNATURE');
  });

  it('forgets the nonces signed longer than the window ago, and only those', () => {
    const auth = new MeshAuth(SECRET, clock);
    for (let i = 0; i < 3000; i++) {
      now = START + i * 10;
      expect(auth.refusal(signed(now, nonce(i)))).to.equal(undefined);
    }
    expect(auth.remembered).to.equal(3000);
    // The window has passed for the first 1,000 (signed 10 ms apart).
    now = START + REPLAY_WINDOW_MS + 9_995;
    expect(auth.refusal(signed(now, 'nonce-late'))).to.equal(undefined);
    expect(auth.remembered).to.equal(3001 - 1000);
    // Still within the window: a replay of the 1,001st is refused.
    expect(auth.refusal(signed(START + 10_000, nonce(1000)))).to.equal('UNAUTHORIZED');
  });

  it('keeps a nonce signed ahead of its clock until its own time is past the window', () => {
    const auth = new MeshAuth(SECRET, clock);
    const ahead = START + REPLAY_WINDOW_MS;
    expect(auth.refusal(signed(ahead, 'nonce-ahead'))).to.equal(undefined);
    now = START + REPLAY_WINDOW_MS + 1_000;
    expect(auth.refusal(signed(now, 'nonce-other'))).to.equal(undefined);
    expect(auth.refusal(signed(ahead, 'nonce-ahead'))).to.equal('UNAUTHORIZED');
  });

  it('remembers at most its cap of nonces, forgetting the oldest first', () => {
    const auth = new MeshAuth(SECRET, clock, undefined, 2000);
    for (let i = 0; i < 5000; i++) expect(auth.refusal(signed(now, nonce(i)))).to.equal(undefined);
    expect(auth.remembered).to.equal(2000);
    expect(auth.refusal(signed(now, nonce(4999)))).to.equal('UNAUTHORIZED');
    expect(auth.refusal(signed(now, nonce(2999)))).to.equal(undefined); // forgotten: the oldest went first
  });
});
