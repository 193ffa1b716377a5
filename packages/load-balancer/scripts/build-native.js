'use strict';
// Builds native/pump.c into dist/native/pump.node (Node-API, so one build serves every
// Node.js version). Linux only. Without a C compiler the balancer still works: it moves
// bytes in JavaScript, and this script says so and exits 0. A compiler that is there but
// fails is an error.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const source = path.join(root, 'native', 'pump.c');
const target = path.join(root, 'dist', 'native', 'pump.node');

function findCompiler() {
  const candidates = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  for (const candidate of candidates) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

function main() {
  // The folder is there even when nothing is built in it (the Dockerfile copies it).
  fs.mkdirSync(path.dirname(target), { recursive: true });
  if (process.platform !== 'linux') {
    console.log(`native pump: not built on ${process.platform} (Linux only); the balancer moves bytes in JavaScript`);
    return;
  }
  const compiler = findCompiler();
  if (compiler === undefined) {
    // In the image build, a later stage (on COMPILER_IMAGE) compiles it: say only that.
    if (process.env.NATIVE_PUMP_STAGE === '1') console.log('native pump: no C compiler in this stage; the pump stage of the image compiles it');
    else console.log('native pump: no C compiler (cc, gcc or clang; or set CC); the balancer moves bytes in JavaScript');
    return;
  }
  const headers = path.dirname(require.resolve('node-api-headers/include/node_api.h'));
  execFileSync(compiler, ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', '-I', headers, '-o', target, source, '-lpthread'], { stdio: 'inherit' });
  console.log(`native pump: built ${path.relative(process.cwd(), target)} with ${compiler}`);
}

main();
