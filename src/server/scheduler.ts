/**
 * A bounded admission queue: at most `concurrency` jobs run at once, at most `maxQueue` wait;
 * past that {@link Scheduler.run} throws a 429 ApiError with a Retry-After estimate. A waiting
 * job whose signal aborts (its client went away) leaves the queue without running.
 */
import { ApiError } from './errors.js';
import { AbortedError } from './models.js';

interface Waiter {
  start: () => void;
  fail: (e: unknown) => void;
}

export class Scheduler {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** Exponential moving average of job duration (ms), for Retry-After. */
  private avgMs = 2000;

  constructor(readonly name: string, readonly concurrency: number, readonly maxQueue: number) {}

  get stats() {
    return { running: this.running, queued: this.waiting.length, concurrency: this.concurrency, maxQueue: this.maxQueue };
  }

  retryAfterSeconds(): number {
    const ahead = this.waiting.length + 1;
    return Math.max(1, Math.ceil((ahead * this.avgMs) / this.concurrency / 1000));
  }

  async run<T>(signal: AbortSignal, job: () => Promise<T>): Promise<T> {
    if (signal.aborted) throw new AbortedError();
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueue) {
        const s = this.retryAfterSeconds();
        throw new ApiError(429, `The server is busy (${this.running} running, ${this.waiting.length} queued for ${this.name}); retry after ${s} s`, 'rate_limit_error', 'server_busy', null, { 'retry-after': String(s) });
      }
      await new Promise<void>((resolve, reject) => {
        const w: Waiter = {
          start: () => { signal.removeEventListener('abort', onAbort); resolve(); },
          fail: reject,
        };
        const onAbort = () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new AbortedError());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(w);
      });
    } else {
      this.running++;
    }
    // A started waiter inherits the slot of the job that finished (running is unchanged).
    const t0 = performance.now();
    try {
      return await job();
    } finally {
      this.avgMs = 0.8 * this.avgMs + 0.2 * (performance.now() - t0);
      const next = this.waiting.shift();
      if (next) next.start();
      else this.running--;
    }
  }
}
