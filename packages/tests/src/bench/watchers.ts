import * as http from 'node:http';

/**
 * A process of its own holding WATCHERS server-sent event watches of every key of a node
 * (`node dist/bench/watchers.js <url> <count>`), for the change feed benchmark. It counts
 * what it receives without parsing JSON (the `data:` lines), in 100 ms buckets, and keeps
 * each watch's last id: a watch the node ends (overflow) reconnects after it, and one told
 * CURSOR_EXPIRED (it fell out of the node's buffer) starts again from the present. Asked
 * over IPC: `{ cmd: 'report' }` → a WatchersReport (watch.ts).
 */

const [url = '', countText = '1000'] = process.argv.slice(2);
const count = Number(countText);
const BUCKET_MS = 100;
const buckets = new Map<number, number>();
let open = 0;
let reconnects = 0;
let expired = 0;
const lastSeqs: number[] = new Array<number>(count).fill(0);

function watch(index: number, after: string | undefined): void {
  const target = new URL(after === undefined ? '/watch' : `/watch?after=${encodeURIComponent(after)}`, url);
  let last = after;
  let counted = false;
  let told = false;
  const req = http.get(target, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('latin1');
    // Five characters carried over: a `data: ` cut in two by a chunk's end is counted once, with the next.
    let tail = '';
    res.on('data', (chunk: string) => {
      const text = tail + chunk;
      let events = 0;
      for (let at = text.indexOf('data: '); at !== -1; at = text.indexOf('data: ', at + 6)) events++;
      if (text.includes('"CURSOR_EXPIRED"')) told = true;
      const line = text.lastIndexOf('\nid: ');
      const id = line !== -1 ? line + 1 : text.startsWith('id: ') ? 0 : -1;
      const end = id === -1 ? -1 : text.indexOf('\n', id + 4);
      if (end !== -1) {
        last = text.slice(id + 4, end);
        lastSeqs[index] = Number(last.slice(last.lastIndexOf('-') + 1));
      }
      tail = text.slice(Math.max(0, text.length - 5));
      const bucket = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + events);
      if (!counted) {
        counted = true;
        open++;
      }
    });
    res.on('end', () => {
      if (counted) open--;
      reconnects++;
      if (told) expired++;
      watch(index, told ? undefined : last);
    });
  });
  req.on('error', () => setTimeout(() => watch(index, last), 100));
}

for (let i = 0; i < count; i++) watch(i, undefined);

process.on('message', (message: { cmd?: string }) => {
  if (message.cmd !== 'report') return;
  process.send?.({ open, reconnects, expired, buckets: [...buckets], minSeq: Math.min(...lastSeqs) });
});
process.on('disconnect', () => process.exit(0));
