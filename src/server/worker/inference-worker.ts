/**
 * Worker thread entry: loads one model once and serves every request for it. Requests run
 * concurrently inside the worker (the generation loop yields to the event loop between
 * tokens), so a cancel message reaches a running generation within one token.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isBadInput } from '../../errors.js';
import type { FromInference, InferenceWorkerData, ToInference } from './protocol.js';
import { ImageEngine, TextEngine } from './pipelines.js';

const port = parentPort!;
const data = workerData as InferenceWorkerData;
const send = (m: FromInference, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const running = new Map<number, AbortController>();

async function main(): Promise<void> {
  let text: TextEngine | null = null;
  let image: ImageEngine | null = null;
  try {
    if (data.kind === 'text') text = await TextEngine.load(data.id, data.spec);
    else image = await ImageEngine.load(data.id, data.spec);
  } catch (e) {
    send({ t: 'fatal', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  port.on('message', (m: ToInference) => {
    if (m.t === 'cancel') {
      running.get(m.id)?.abort();
      return;
    }
    const ac = new AbortController();
    running.set(m.id, ac);
    void (async () => {
      try {
        if (m.t === 'text') {
          if (!text) throw new Error('not a text model');
          const r = await text.generate(m.input, m.params, m.stream ? (d) => send({ t: 'delta', id: m.id, text: d }) : null, ac.signal);
          send({ t: 'done', id: m.id, text: r });
        } else {
          if (!image) throw new Error('not an image model');
          const imgs = m.t === 'images' ? await image.generate(m.req) : await image.interpolate(m.req);
          send({ t: 'done', id: m.id, images: imgs });
        }
      } catch (e) {
        send({ t: 'error', id: m.id, message: e instanceof Error ? e.message : String(e), badInput: isBadInput(e), aborted: ac.signal.aborted });
      } finally {
        running.delete(m.id);
      }
    })();
  });
  send({ t: 'ready', info: (text ?? image)!.info });
}

void main();
