#!/usr/bin/env node
// Builds the native kernels (native/, binding.gyp) with node-gyp at install time, from local
// headers only (no downloads). A failed build is not fatal: aigc then runs on its TypeScript
// backend. Set AIGC_REQUIRE_NATIVE=1 to make a failed build fail the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const required = process.env.AIGC_REQUIRE_NATIVE === '1';

const verbose = process.env.AIGC_NATIVE_VERBOSE === '1';
let log = '';

function fail(why) {
  // The compiler log only when asked for (or when the native build is required): a failed
  // optional build is one line.
  if ((verbose || required) && log) process.stderr.write(log.split('\n').slice(-40).join('\n') + '\n');
  console.error(`aigc: native kernels not built (${why}); the TypeScript backend will be used` +
    (verbose || required ? '' : ' [AIGC_NATIVE_VERBOSE=1 shows the compiler log]'));
  process.exit(required ? 1 : 0);
}

function findNodeGyp() {
  const candidates = [];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] }));
  } catch {}
  candidates.push(path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const npmDir = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  candidates.push(path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  return candidates.find((c) => existsSync(c));
}

const gyp = findNodeGyp();
const args = ['rebuild', '--release'];
const nodedir = process.env.npm_config_nodedir || '/usr';
if (existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodedir}`);
const jobs = process.env.JOBS || 'max';
args.push(`--jobs=${jobs}`);

const stdio = verbose ? 'inherit' : 'pipe';
let res;
if (gyp) {
  res = spawnSync(process.execPath, [gyp, ...args], { cwd: root, stdio, encoding: 'utf8', maxBuffer: 64 << 20 });
} else {
  res = spawnSync('npm', ['exec', '--yes=false', '--', 'node-gyp', ...args], { cwd: root, stdio, encoding: 'utf8', maxBuffer: 64 << 20, shell: process.platform === 'win32' });
}
log = `${res.stdout ?? ''}${res.stderr ?? ''}`;
if (res.error) fail(`could not run node-gyp: ${res.error.message}`);
if (res.status !== 0) fail(`node-gyp exited with status ${res.status}`);
if (!existsSync(path.join(root, 'build', 'Release', 'aigc_native.node'))) fail('build/Release/aigc_native.node missing after the build');
console.log('aigc: native kernels built (build/Release/aigc_native.node)');
