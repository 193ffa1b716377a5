import { expect } from 'chai';
import fc from 'fast-check';
import {
  checkStorageFormat,
  decodePullAnswer,
  decodeReplicateBody,
  decodeVersionLine,
  encodeVersionLine,
  encodeVersionRecordLine,
  fromExpiryKey,
  fromFirstStorageKey,
  fromRow,
  fromStorageKey,
  fromWire,
  pullAnswer,
  PULL_ANSWER_OPENING,
  pullAnswerEnd,
  readStorageKey,
  RECORD_FORMAT,
  RecordCodecError,
  replicateBody,
  replicateBodyText,
  rowHead,
  rowJson,
  STORAGE_FORMAT,
  toExpiryKey,
  toRow,
  toStorageKey,
  toWire,
} from '../../../src/record/codec';
import { headOf, type StoredRecord } from '../../../src/record/record';
import { anyString, compareByPoints } from './strings';

const nodeId = fc.string({ minLength: 1, maxLength: 64 });
const expiry = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
/** Any record: a tombstone, a value, or a value that expires. */
const record: fc.Arbitrary<StoredRecord> = fc.oneof(
  fc.record({ value: fc.option(anyString, { nil: null }), hlc: fc.maxSafeNat(), nodeId }),
  fc.record({ value: anyString, hlc: fc.maxSafeNat(), nodeId, expiresAt: expiry }),
);
const version = fc.record({ hlc: fc.maxSafeNat(), nodeId });
/** A value as it crosses the network: JSON text, parsed again on the other side. */
const overTheWire = <T>(value: T): unknown => JSON.parse(JSON.stringify(value)) as unknown;

describe('record codec', () => {
  it('is at format 2, and marks storage files with it', () => {
    expect(RECORD_FORMAT).to.equal(2);
    expect(STORAGE_FORMAT).to.equal('meshkv-records-2');
  });

  it('sends a body none of whose records expires as format 1, which the release before reads', () => {
    expect(replicateBody([toWire('k', { value: 'v', hlc: 1, nodeId: 'n' })], null).format).to.equal(1);
    expect(replicateBody([toWire('k', { value: 'v', hlc: 1, nodeId: 'n', expiresAt: 9 })], null).format).to.equal(2);
    expect(pullAnswer([]).format).to.equal(1);
  });

  it('streams a pull answer whose format, given last, says whether a record expires', () => {
    const text = `${PULL_ANSWER_OPENING}${JSON.stringify(toWire('k', { value: 'v', hlc: 1, nodeId: 'n', expiresAt: 9 }))}${pullAnswerEnd(true)}`;
    expect(JSON.parse(text)).to.deep.equal({ records: [['k', 'v', 1, 'n', 9]], format: 2 });
    expect(decodePullAnswer(JSON.parse(text))).to.deep.equal([['k', 'v', 1, 'n', 9]]);
    expect(JSON.parse(`${PULL_ANSWER_OPENING}${pullAnswerEnd(false)}`)).to.deep.equal({ records: [], format: 1 });
  });

  it('writes a replicate body from records in JSON text already: the text JSON.stringify gives the body', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(anyString, record), { maxLength: 5 }), fc.option(version, { nil: null }), (pairs, clear) => {
        const wires = pairs.map(([key, r]) => toWire(key, r));
        const text = replicateBodyText(wires.map((wire) => ({ wire, json: JSON.stringify(wire) })), clear);
        expect(text).to.equal(JSON.stringify(replicateBody(wires, clear)));
      }),
    );
  });

  it('round-trips any record through a replicate body, as JSON text', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(anyString, record), { maxLength: 5 }), fc.option(version, { nil: null }), (pairs, clear) => {
        const body = decodeReplicateBody(overTheWire(replicateBody(pairs.map(([key, r]) => toWire(key, r)), clear)));
        expect(body.records.map((wire) => [wire[0], fromWire(wire)])).to.deep.equal(pairs);
        expect(body.clear).to.deep.equal(clear);
      }),
    );
  });

  it('round-trips any record through a pull answer', () => {
    fc.assert(
      fc.property(anyString, record, (key, r) => {
        const [wire] = decodePullAnswer(overTheWire(pullAnswer([toWire(key, r)])));
        expect(wire?.[0]).to.equal(key);
        expect(fromWire(wire!)).to.deep.equal(r);
      }),
    );
  });

  it('round-trips any version line, with and without the value', () => {
    fc.assert(
      fc.property(anyString, record, (key, r) => {
        const head = headOf(r);
        const bare = encodeVersionLine(key, head);
        expect(bare.endsWith('\n')).to.equal(true);
        // A bare line carries the version only, not the expiry.
        expect(decodeVersionLine(bare.slice(0, -1))).to.deep.equal({ key, head: { hlc: head.hlc, nodeId: head.nodeId, tombstone: head.tombstone } });
        expect(decodeVersionLine(encodeVersionRecordLine(key, r).slice(0, -1))).to.deep.equal({ key, head, record: r });
      }),
    );
  });

  it('round-trips any record through an LMDB row and any key through an LMDB key', () => {
    fc.assert(
      fc.property(anyString, record, (key, r) => {
        const row = toRow(r);
        expect(fromRow(row)).to.deep.equal(r);
        expect(rowHead(row)).to.deep.equal(headOf(r));
        expect(rowJson(row)).to.equal(r.value === null ? undefined : JSON.stringify(r.value));
        expect(fromStorageKey(toStorageKey(key))).to.equal(key);
        if (r.expiresAt !== undefined) expect(fromExpiryKey(toExpiryKey(r.expiresAt, key))).to.deep.equal({ expiresAt: r.expiresAt, key });
      }),
    );
  });

  it('hides an expired value from rowJson given the time, and only then', () => {
    const row = toRow({ value: 'v', hlc: 1, nodeId: 'n', expiresAt: 100 });
    expect(rowJson(row)).to.equal('"v"');
    expect(rowJson(row, 99)).to.equal('"v"');
    expect(rowJson(row, 100)).to.equal(undefined);
  });

  it('orders storage keys by code point, and expiry keys by expiry', () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        const bytes = Math.sign(Buffer.compare(toStorageKey(a), toStorageKey(b)));
        expect(bytes).to.equal(Math.sign(compareByPoints(a, b)));
      }),
    );
    expect(Buffer.compare(toExpiryKey(255, 'z'), toExpiryKey(256, 'a'))).to.equal(-1);
  });

  it('reads the keys of a format 1 file (UTF-16LE), and refuses storage keys it did not write', () => {
    const old = Buffer.concat([Buffer.from([0x6b]), Buffer.from('ünï\ud800', 'utf16le')]);
    expect(fromFirstStorageKey(old)).to.equal('ünï\ud800');
    expect(fromFirstStorageKey(Buffer.from([0x6b, 0x41]))).to.equal(undefined);
    expect(readStorageKey(Buffer.from([0x6b, 0xff]))).to.equal(undefined);
    expect(readStorageKey(Buffer.from([0x6b, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]))).to.equal(undefined); // a pair encoded as two
    expect(readStorageKey(Buffer.from([0x70, 0x41]))).to.equal(undefined);
    expect(readStorageKey(Buffer.from([0x6b]))).to.equal('');
  });

  it('reads a body without a format as format 1 (what nodes before the codec sent)', () => {
    expect(decodeReplicateBody({ records: [['k', 'v', 1, 'n']], clear: null }).records).to.deep.equal([['k', 'v', 1, 'n']]);
    expect(decodePullAnswer({ records: [] })).to.deep.equal([]);
  });

  it('refuses records of a newer format, saying to upgrade, and malformed expiries', () => {
    expect(() => decodeReplicateBody({ format: 3, records: [], clear: null })).to.throw(RecordCodecError, /newer MeshKV.*upgrade/);
    for (const bad of [['k', 'v', 1, 'n', 0], ['k', 'v', 1, 'n', 1.5], ['k', null, 1, 'n', 5], ['k', 'v', 1, 'n', '5']]) {
      expect(() => decodeReplicateBody({ format: 2, records: [bad], clear: null }), JSON.stringify(bad)).to.throw(RecordCodecError);
    }
    expect(() => decodePullAnswer({ format: 'x', records: [] })).to.throw(RecordCodecError, /format must be/);
  });

  for (const line of ['', 'nope', '[]', '["k",1,"n"]', '["k",-1,"n",0]', '["k",1,"",0]', '["k",1,"n",2]', '["k",1,"n",0,5]', '["k",1,"n",0,null,1]', '["k",1,"n",1,"v"]', '["k",1,"n",1,null,5]', '["k",1,"n",0,"v",0]', '["k",1,"n",0,"v",5,6]', '{"k":1}']) {
    it(`refuses the versions line ${JSON.stringify(line)}`, () => {
      expect(() => decodeVersionLine(line)).to.throw(RecordCodecError);
    });
  }

  it('opens its own storage format, migrates format 1, refuses a newer one naming it, and refuses foreign files', () => {
    expect(checkStorageFormat('meshkv-records-2')).to.deep.equal({ open: true, migrate: false });
    expect(checkStorageFormat('meshkv-records-1')).to.deep.equal({ open: true, migrate: true });
    const newer = checkStorageFormat('meshkv-records-3');
    expect(newer.open).to.equal(false);
    expect(!newer.open && newer.reason).to.match(/newer MeshKV \(format "meshkv-records-3"; this release reads "meshkv-records-2"\)/);
    for (const found of [undefined, 'something-else', 'meshkv-records-0']) {
      const verdict = checkStorageFormat(found);
      expect(!verdict.open && verdict.reason, String(found)).to.match(/is not a MeshKV database/);
    }
  });
});

