// Runs the kernels benchmark on the native backend and prints one JSON line per case.
// Usage: npx vite-node scripts/bench-kernels.ts [ts|native] [quick]
import { benchKernels } from '../src/bench/kernels.js';
import { tsBackend } from '../src/engine/backend/ts.js';
import { loadNativeBackend } from '../src/engine/backend/native.js';

const which = process.argv[2] ?? 'native';
const backend = which === 'ts' ? tsBackend : loadNativeBackend();
const only = process.env.CASES;
for await (const r of benchKernels({ backend, quick: process.argv[3] === 'quick' })) {
  if (only && !only.split(',').some((c) => r.case.includes(c))) continue;
  console.log(JSON.stringify({ ...r, ms: +r.ms.toFixed(4), gflops: r.gflops && +r.gflops.toFixed(1), gbps: r.gbps && +r.gbps.toFixed(1) }));
}
