import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { StorageOpenError } from './lmdb';

/**
 * DATA_SLOT: several nodes share one data folder, each in a folder of its own inside it
 * (`node-1`, `node-2`, …), held by a lock for as long as the node runs. It is what lets a
 * scaled Compose service keep its data in one named volume: after `down` and `up` the new
 * containers take the slots the old ones left, with their data and node ids.
 *
 * The lock is a folder `node-N.lock` whose mtime its holder refreshes (proper-lockfile);
 * a clean stop removes it, and so does the process's exit. One left by a killed node is
 * stale once it has not been refreshed for `staleMs`.
 *
 * `auto` takes the lowest slot that is free, so that a node prefers old data to a new
 * empty slot (made with the lowest number not in use). It makes a new slot only once it has seen every other lock refreshed (a
 * start takes up to `updateMs` more then); a lock that is not refreshed is that of a node
 * just killed, and is taken once stale (up to `staleMs` after the kill).
 *
 * NB: the lock is as good as the folder's mtime: every node that shares the folder must
 * see the same file system and clock (one machine; not a network file system whose
 * clients' clocks differ).
 */
export type DataSlot = 'auto' | number;

export interface SlotOptions {
  /** ms a lock may go without refresh before another node may take it. */
  readonly staleMs?: number;
  /** ms between two refreshes of the lock. */
  readonly updateMs?: number;
  /** The lock was lost (its folder removed or taken over): the slot is no longer this node's. */
  readonly onLost: (error: Error) => void;
}

export interface SlotClaim {
  readonly slot: number;
  /** The node's data folder: `<root>/node-<slot>`. */
  readonly directory: string;
  /** Gives the slot back; call after the storage is closed. Idempotent. */
  release(): Promise<void>;
}

/** ms: a node whose event loop stalls longer loses its lock (and stops: onLost). */
export const SLOT_STALE_MS = 10_000;
export const SLOT_UPDATE_MS = 2_000;
const SLOT_NAME = /^node-([1-9][0-9]{0,5})$/;

/**
 * Claims a slot of `root` (made if missing). A number asks for that slot and fails if a
 * running node holds it; `auto` takes a free one or makes the next. Resolves once the lock
 * is held; rejects with a StorageOpenError naming the folder.
 */
export async function claimDataSlot(root: string, want: DataSlot, options: SlotOptions): Promise<SlotClaim> {
  const staleMs = options.staleMs ?? SLOT_STALE_MS;
  const updateMs = options.updateMs ?? SLOT_UPDATE_MS;
  try {
    fs.mkdirSync(root, { recursive: true });
  } catch (error) {
    throw new StorageOpenError(`DATA_DIR "${root}" cannot be made (${(error as Error).message}): give the node a folder it may write`, { cause: error });
  }
  const lock = async (slot: number): Promise<SlotClaim | undefined> => {
    const directory = path.join(root, `node-${slot}`);
    fs.mkdirSync(directory, { recursive: true });
    try {
      const unlock = await lockfile.lock(directory, { stale: staleMs, update: updateMs, realpath: false, onCompromised: options.onLost });
      let released = false;
      return {
        slot,
        directory,
        release: async () => {
          if (released) return;
          released = true;
          await unlock().catch(() => undefined);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
      throw new StorageOpenError(`the lock of ${directory} cannot be taken (${(error as Error).message})`, { cause: error });
    }
  };

  if (want !== 'auto') {
    const claim = await lock(want);
    if (claim === undefined) {
      throw new StorageOpenError(`DATA_SLOT=${want}: ${path.join(root, `node-${want}`)} is held by a running node (its lock ${path.join(root, `node-${want}.lock`)} is fresh): give this node another DATA_SLOT, or DATA_SLOT=auto`);
    }
    return claim;
  }

  // A lock counts as someone's once it has been seen refreshed: a node killed a moment ago
  // left a fresh-looking lock that nobody refreshes; it is waited for until it is stale
  // (at most staleMs), so that its data is taken again rather than a new slot made.
  const firstSeen = new Map<number, number>();
  const deadline = Date.now() + staleMs * 2;
  for (;;) {
    const slots = existingSlots(root);
    let unsure = false;
    for (const slot of slots) {
      const mtime = lockTime(root, slot);
      if (mtime === undefined || Date.now() - mtime > staleMs) {
        const claim = await lock(slot);
        if (claim !== undefined) return claim;
        firstSeen.set(slot, -1); // taken just now by another node: its lock is live
        continue;
      }
      const first = firstSeen.get(slot);
      if (first === undefined) firstSeen.set(slot, mtime);
      if (first === undefined || first === mtime) unsure = true;
    }
    if (unsure && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, updateMs / 4));
      continue;
    }
    let next = 1;
    while (slots.includes(next)) next++;
    if (makeSlot(root, next)) {
      const claim = await lock(next);
      if (claim !== undefined) return claim;
    }
  }
}

/** The slot numbers in `root`, ascending. */
export function existingSlots(root: string): number[] {
  const slots: number[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const match = entry.isDirectory() ? SLOT_NAME.exec(entry.name) : null;
    if (match !== null) slots.push(Number(match[1]));
  }
  return slots.sort((a, b) => a - b);
}

/** The mtime of the lock of `slot`, undefined if it has none. */
function lockTime(root: string, slot: number): number | undefined {
  try {
    return fs.statSync(path.join(root, `node-${slot}.lock`)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Makes `node-<slot>`; false if another node made it first. */
function makeSlot(root: string, slot: number): boolean {
  try {
    fs.mkdirSync(path.join(root, `node-${slot}`));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new StorageOpenError(`a data slot cannot be made in DATA_DIR "${root}" (${(error as Error).message})`, { cause: error });
  }
}
