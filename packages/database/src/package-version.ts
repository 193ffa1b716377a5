import * as fs from 'node:fs';
import * as path from 'node:path';

/** The version in this package's package.json, found by walking up from the running file. */
export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@meshkv/database' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No readable package.json here: keep walking up.
    }
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}
