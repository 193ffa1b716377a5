import { expect } from 'chai';
import fc from 'fast-check';
import {
  checkStorageFormat,
  decodePullAnswer,
  decodeReplicateBody,
  decodeVersionLine,
  encodeVersionLine,
  fromRow,
  fromStorageKey,
  fromWire,
  pullAnswer,
  RECORD_FORMAT,
  RecordCodecError,
  replicateBody,
  rowHead,
  rowJson,
  STORAGE_FORMAT,
  toRow,
  toStorageKey,
  toWire,
} from '../../../src/record/codec';
import { headOf, type StoredRecord } from '../../../src/record/record';

/** Any JavaScript string, lone surrogates included (full Unicode plus raw UTF-16 units). */
const anyString = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) }));
const nodeId = fc.string({ minLength: 1, maxLength: 64 });
const record: fc.Arbitrary<StoredRecord> = fc.record({ value: fc.option(anyString, { nil: null }), hlc: fc.maxSafeNat(), nodeId });
const version = fc.record({ hlc: fc.maxSafeNat(), nodeId });
/** A value as it crosses the network: JSON text, parsed again on the other side. */
const overTheWire = <T>(value: T): unknown => JSON.parse(JSON.stringify(value)) as unknown;

describe('record codec', () => {
  it('is at format 1, and marks storage files with it', () => {
    expect(RECORD_FORMAT).to.equal(1);
    expect(STORAGE_FORMAT).to.equal('meshkv-records-1');
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
        expect(decodeVersionLine(bare.slice(0, -1))).to.deep.equal({ key, head });
        expect(decodeVersionLine(encodeVersionLine(key, head, r.value).slice(0, -1))).to.deep.equal({ key, head, value: r.value });
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
      }),
    );
  });

  it('reads a body without a format as format 1 (what nodes before the codec sent)', () => {
    expect(decodeReplicateBody({ records: [['k', 'v', 1, 'n']], clear: null }).records).to.deep.equal([['k', 'v', 1, 'n']]);
    expect(decodePullAnswer({ records: [] })).to.deep.equal([]);
  });

  it('refuses records of a newer format, saying to upgrade', () => {
    expect(() => decodeReplicateBody({ format: 2, records: [], clear: null })).to.throw(RecordCodecError, /newer MeshKV.*upgrade/);
    expect(() => decodePullAnswer({ format: 'x', records: [] })).to.throw(RecordCodecError, /format must be/);
  });

  for (const line of ['', 'nope', '[]', '["k",1,"n"]', '["k",-1,"n",0]', '["k",1,"",0]', '["k",1,"n",2]', '["k",1,"n",0,5]', '["k",1,"n",0,null,1]', '{"k":1}']) {
    it(`refuses the versions line ${JSON.stringify(line)}`, () => {
      expect(() => decodeVersionLine(line)).to.throw(RecordCodecError);
    });
  }

  it('opens its own storage format, refuses a newer one naming it, and refuses foreign files', () => {
    expect(checkStorageFormat('meshkv-records-1')).to.deep.equal({ open: true });
    const newer = checkStorageFormat('meshkv-records-2');
    expect(newer.open).to.equal(false);
    expect(!newer.open && newer.reason).to.match(/newer MeshKV \(format "meshkv-records-2"; this release reads "meshkv-records-1"\)/);
    for (const found of [undefined, 'something-else', 'meshkv-records-0']) {
      const verdict = checkStorageFormat(found);
      expect(!verdict.open && verdict.reason, String(found)).to.match(/is not a MeshKV database/);
    }
  });
});
