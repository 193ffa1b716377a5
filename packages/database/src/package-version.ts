import * as fs from 'node:fs';
import * as path from 'node:path';

/** This package's folder and package.json, found by walking up from the running file (dist/ or test-build/). */
function packageOf(from: string): { dir: string; version: string } | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@meshkv/database' && typeof pkg.version === 'string') return { dir, version: pkg.version };
    } catch {
      // No readable package.json here: keep walking up.
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The version in this package's package.json. */
export function packageVersion(from: string = __dirname): string {
  return packageOf(from)?.version ?? '0.0.0';
}

/** A file or folder of this package (`ui` for the cluster page's files). */
export function packagePath(name: string, from: string = __dirname): string {
  const found = packageOf(from);
  if (found === undefined) throw new Error(`the folder of @meshkv/database is not above ${from}`);
  return path.join(found.dir, name);
}
