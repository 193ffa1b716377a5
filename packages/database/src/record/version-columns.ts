/**
 * For tables that keep records' versions column by column in typed arrays (the memory
 * adapter, the change log): the writer of each version as a small number, and columns
 * that grow.
 */

/** Node ids (the writers of versions), each kept once and known by its number: a mesh has few nodes. */
export class Writers {
  private readonly ids: string[] = [];
  private readonly numbers = new Map<string, number>();

  /** The number of `nodeId`, given the first time it is seen. */
  numberOf(nodeId: string): number {
    let number = this.numbers.get(nodeId);
    if (number === undefined) {
      number = this.ids.length;
      this.ids.push(nodeId);
      this.numbers.set(nodeId, number);
    }
    return number;
  }

  /** The node id of `number`. */
  idOf(number: number): string {
    return this.ids[number] as string;
  }
}

/** `to` (a larger column) holding `from`'s values first. */
export function resized<T extends Uint8Array | Int32Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
