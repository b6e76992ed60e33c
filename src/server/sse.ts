/** Server-sent events on a hijacked reply: `data: <json>\n\n` frames, flushed as written. */
import type { FastifyReply } from 'fastify';

export class SseStream {
  private closed = false;

  constructor(private readonly reply: FastifyReply, extraHeaders: Record<string, string> = {}) {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...extraHeaders,
    });
    raw.flushHeaders();
    raw.socket?.setNoDelay(true);
    raw.on('close', () => { this.closed = true; });
  }

  get isClosed(): boolean {
    return this.closed || this.reply.raw.destroyed;
  }

  /** Sends one event: an object as JSON, or a raw string such as "[DONE]". */
  send(data: unknown, event?: string): void {
    if (this.isClosed) return;
    const body = typeof data === 'string' ? data : JSON.stringify(data);
    this.reply.raw.write(`${event ? `event: ${event}\n` : ''}data: ${body}\n\n`);
  }

  /** A comment line: keeps proxies from timing the connection out. */
  ping(): void {
    if (!this.isClosed) this.reply.raw.write(': ping\n\n');
  }

  end(): void {
    if (this.isClosed) return;
    this.closed = true;
    this.reply.raw.end();
  }
}
