'use strict';
// Builds the packages only when a source file is newer than what was built from it (or
// nothing was built yet), so tools like `npm run stress` start at once on a built tree.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** The newest modification time under `dir` (0 when it does not exist). */
function newest(dir) {
  if (!fs.existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

const packages = fs.readdirSync(path.join(root, 'packages')).map((name) => path.join(root, 'packages', name));
const stale = packages.filter((dir) => {
  const built = newest(path.join(dir, 'dist'));
  return built === 0 || newest(path.join(dir, 'src')) > built || fs.statSync(path.join(dir, 'package.json')).mtimeMs > built;
});
if (stale.length > 0) {
  process.stdout.write(`building (${stale.map((dir) => path.basename(dir)).join(', ')} changed since the last build)\n`);
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
