/** `aigc bench NAME [--json] [--backend ts|native]`: runs a benchmark suite. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { backend, setBackend } from '../../engine/backend/index.js';
import { ConfigError } from '../../errors.js';
import { benchSuites } from '../../bench/index.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(`run a benchmark suite: ${Object.keys(benchSuites).join(', ')}`)
    .argument('<suite>', Object.entries(benchSuites).map(([k, v]) => `${k}: ${v.describe}`).join('; '))
    .option('--json', 'print one JSON object per line: {"bench","case","ms","threads","backend",...}')
    .addOption(new Option('--backend <name>', 'kernel backend (default: native when it loads, else ts)').choices(['ts', 'native']))
    .option('--quick', 'fewer repetitions (a smoke test, not a measurement)')
    .action(async (suite: string, opts: { json?: boolean; backend?: 'ts' | 'native'; quick?: boolean }) => {
      const entry = benchSuites[suite];
      if (!entry) throw new ConfigError(`unknown benchmark suite "${suite}"; choose one of: ${Object.keys(benchSuites).join(', ')}`);
      const be = opts.backend ? setBackend(opts.backend) : backend();
      const run = await entry.load();
      for await (const r of run({ backend: be, quick: opts.quick })) {
        if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
        else {
          const figs = (['gflops', 'gbps', 'tokens_per_s', 'mb_per_s', 'roofline_tokens_per_s', 'of_roofline', 'peak_rss_mib'] as const)
            .filter((k) => r[k] !== undefined).map((k) => `${k}=${r[k]}`).join(' ');
          process.stdout.write(`${r.bench.padEnd(10)} ${r.case.padEnd(28)} ${r.ms.toFixed(3).padStart(10)} ms  ${figs}  [${r.backend}, ${r.threads} threads]\n`);
        }
      }
    });
}
