/** `aigc serve`: the OpenAI-compatible API and the web studio on this machine's models. */
import type { Command } from 'commander';
import { startServer } from '../../server/index.js';
import { ConfigError } from '../../errors.js';

const collect = (v: string, prev: string[]) => [...prev, v];
const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
};

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the OpenAI-compatible API (/v1) and the web studio (/) on local models')
    .option('--host <host>', 'address to listen on (without API keys only loopback is allowed)', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', int('--port', 0, 65535), 8080)
    .option('--model <id-or-dir>', 'a text model (repeatable; default: the bundled text model)', collect, [])
    .option('--image-model <dir>', 'an image model directory (repeatable; default: the bundled image model)', collect, [])
    .option('--data-dir <dir>', 'where the database, images and training runs live (default: $AIGC_DATA_DIR or ~/.local/share/aigc)')
    .option('--api-key <key>', 'require this API key (repeatable; also AIGC_API_KEYS, comma-separated)', collect, [])
    .option('--encrypt-history', 'encrypt stored conversations (AES-256-GCM, key in AIGC_HISTORY_KEY: 32 bytes, hex or base64)')
    .option('--rate-limit <n>', 'requests per minute per client (0: no limit)', int('--rate-limit', 0, 1_000_000), 600)
    .option('--body-limit <bytes>', 'largest request body', int('--body-limit', 1024, 64 * 1024 * 1024), 1024 * 1024)
    .option('--concurrency <n>', 'generations running at once per text model', int('--concurrency', 1, 64), 4)
    .option('--queue <n>', 'requests waiting per model before 429', int('--queue', 0, 10_000), 16)
    .option('--log', 'log every request (JSON lines on stdout)')
    .action(async (o: { host: string; port: number; model: string[]; imageModel: string[]; dataDir?: string; apiKey: string[]; encryptHistory?: boolean; rateLimit: number; bodyLimit: number; concurrency: number; queue: number; log?: boolean }) => {
      const server = await startServer({
        host: o.host, port: o.port, textModels: o.model, imageModels: o.imageModel, dataDir: o.dataDir, apiKeys: o.apiKey,
        encryptHistory: o.encryptHistory, rateLimit: o.rateLimit, bodyLimit: o.bodyLimit, concurrency: o.concurrency, queue: o.queue, logger: o.log,
      });
      await new Promise<void>((resolve) => {
        const stop = () => { process.stderr.write('aigc serve: shutting down\n'); void server.close().then(resolve); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
