import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A disk whose flushes wait at a gate: a small library, compiled here with the system's C
 * compiler and loaded into a node with LD_PRELOAD, that holds every fsync and fdatasync of
 * the process while the gate file exists (and marks that one waits). What it shows: which
 * answers a node gives before its writes are on disk. Undefined, with `why`, without a
 * compiler.
 */
const SOURCE = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
static int closed(void) { const char *gate = getenv("FSYNC_GATE"); return gate != NULL && access(gate, F_OK) == 0; }
static void wait_at_gate(void) {
  if (!closed()) return;
  const char *mark = getenv("FSYNC_MARK");
  if (mark != NULL) { int fd = open(mark, O_CREAT | O_WRONLY, 0644); if (fd >= 0) close(fd); }
  while (closed()) usleep(1000);
}
int fdatasync(int fd) { static int (*real)(int); if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync"); wait_at_gate(); return real(fd); }
int fsync(int fd) { static int (*real)(int); if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync"); wait_at_gate(); return real(fd); }
`;

export interface FsyncGate {
  /** The environment that loads the library into a process. */
  readonly env: Record<string, string>;
  close(): void;
  open(): void;
  /** True once a flush waits at the closed gate. */
  readonly waiting: boolean;
  remove(): void;
}

export function fsyncGate(): FsyncGate | { why: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-fsync-gate-'));
  fs.writeFileSync(path.join(dir, 'gate.c'), SOURCE);
  const library = path.join(dir, 'gate.so');
  const built = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', library, path.join(dir, 'gate.c'), '-ldl'], { encoding: 'utf8' });
  if (built.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { why: `no C compiler to build the fsync gate (${built.error?.message ?? built.stderr.trim()})` };
  }
  const gate = path.join(dir, 'closed');
  const mark = path.join(dir, 'waiting');
  return {
    env: { LD_PRELOAD: library, FSYNC_GATE: gate, FSYNC_MARK: mark },
    close: () => {
      fs.rmSync(mark, { force: true });
      fs.writeFileSync(gate, '');
    },
    open: () => fs.rmSync(gate, { force: true }),
    get waiting() {
      return fs.existsSync(mark);
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
