/** Worker thread entry for one training job; the thread ends with the job. */
import { parentPort, workerData } from 'node:worker_threads';
import { isBadInput } from '../../errors.js';
import type { FromTraining, ToTraining, TrainingWorkerData } from './protocol.js';
import { runTraining } from './pipelines.js';

const port = parentPort!;
const { spec } = workerData as TrainingWorkerData;
const ac = new AbortController();
port.on('message', (m: ToTraining) => { if (m.t === 'cancel') ac.abort(); });
const send = (m: FromTraining) => port.postMessage(m);

runTraining(spec, (p) => send({ t: 'progress', p }), ac.signal)
  .then((r) => send({ t: 'done', modelDir: r.modelDir }))
  .catch((e: unknown) => send({ t: 'error', message: e instanceof Error ? e.message : String(e), badInput: isBadInput(e), aborted: ac.signal.aborted }))
  .finally(() => port.close());
