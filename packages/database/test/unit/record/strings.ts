import fc from 'fast-check';

/** Any JavaScript string, lone surrogates included (full Unicode plus raw UTF-16 units). */
export const anyString = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) }),
  // Near the surrogates and above them, where code unit and code point orders part.
  fc.string({ unit: fc.constantFrom('a', '\ud800', '\udbff', '\udc00', '\udfff', '\ue000', '\uffff', '𐀀', '𤭢', '\u{10ffff}') }),
);

/** Code point order, spelled out (a lone surrogate is its own code point): the reference. */
export function compareByPoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) as number);
  const y = [...b].map((c) => c.codePointAt(0) as number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x.length - y.length;
}
