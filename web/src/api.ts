/** Talking to `aigc serve`: same origin; with API keys the browser's Basic-auth login travels along. */

export interface TextModel { id: string; kind: 'text'; contextLength: number }
export interface ImageModel { id: string; kind: 'image'; labels: string[] | null; imageSize: number; channels: number }
export type Model = TextModel | ImageModel;

export interface Info { version: string; auth: boolean; encrypt_history: boolean; models: Model[] }

export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

async function check(res: Response): Promise<Response> {
  if (res.ok) return res;
  let msg = `${res.status} ${res.statusText}`;
  try {
    const b = await res.json();
    if (b?.error?.message) msg = b.error.message;
  } catch { /* not JSON */ }
  throw new ApiError(res.status, msg);
}

export async function getJson<T>(url: string): Promise<T> {
  return (await check(await fetch(url))).json() as Promise<T>;
}

export async function postJson<T>(url: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  return (await check(res)).json() as Promise<T>;
}

export async function del(url: string): Promise<void> {
  await check(await fetch(url, { method: 'DELETE' }));
}

/** POSTs a streaming request and yields each SSE `data:` payload (parsed JSON), stopping at [DONE]. */
export async function* postSse(url: string, body: unknown, signal: AbortSignal): AsyncGenerator<any> {
  const res = await check(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal }));
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let k: number;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, k);
      buf = buf.slice(k + 2);
      for (const line of frame.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') return;
        const ev = JSON.parse(data);
        if (ev.error) throw new ApiError(500, ev.error.message);
        yield ev;
      }
    }
  }
}

let infoPromise: Promise<Info> | null = null;
export function info(): Promise<Info> {
  infoPromise ??= getJson<Info>('/api/info');
  return infoPromise;
}

/** A tiny DOM helper: h('div', {class: 'x'}, child, 'text'). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean | ((e: Event) => void) | undefined> = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

export function num(input: HTMLInputElement): number | undefined {
  return input.value.trim() === '' ? undefined : Number(input.value);
}
