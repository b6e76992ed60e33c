/** Chat: streaming replies with a stop button, the sampling parameters, saved conversations. */
import { ApiError, field, getJson, h, info, num, postJson, postSse, type TextModel } from './api.js';

interface Msg { role: 'system' | 'user' | 'assistant'; content: string; meta?: Record<string, unknown> }
interface Conversation { id: string; title: string; model: string; messages?: Msg[] }

let current: { id: string | null; messages: Msg[] } = { id: null, messages: [] };

/** Opens a stored conversation in the chat page (from History). */
export function openConversation(id: string): void {
  current = { id, messages: [] };
  location.hash = `#/chat/${id}`;
}

export async function chatPage(root: HTMLElement, convId?: string): Promise<void> {
  const models = (await info()).models.filter((m): m is TextModel => m.kind === 'text');
  if (models.length === 0) { root.append(h('p', { class: 'error' }, 'This server has no text model loaded.')); return; }
  if (convId) {
    const c = await getJson<Conversation>(`/api/conversations/${convId}`);
    current = { id: c.id, messages: (c.messages ?? []).map((m) => ({ role: m.role, content: m.content, meta: m.meta })) };
  } else if (current.id && !location.hash.includes(current.id)) {
    current = { id: null, messages: [] };
  }

  const model = h('select', { id: 'chat-model' }, ...models.map((m) => h('option', { value: m.id }, m.id)));
  const system = h('input', { id: 'chat-system', placeholder: 'optional system message' });
  const temperature = h('input', { id: 'chat-temperature', type: 'number', min: 0, max: 2, step: 0.05, value: 0.8 });
  const topP = h('input', { id: 'chat-top-p', type: 'number', min: 0.01, max: 1, step: 0.01, value: 0.95 });
  const maxTokens = h('input', { id: 'chat-max-tokens', type: 'number', min: 1, max: models[0].contextLength, value: Math.min(128, models[0].contextLength) });
  const seed = h('input', { id: 'chat-seed', type: 'number', min: 0, placeholder: 'random' });
  const stop = h('input', { id: 'chat-stop', placeholder: 'e.g. \\n\\n (comma-separated)' });
  const log = h('div', { class: 'chat-log', id: 'chat-log', 'aria-live': 'polite' });
  const input = h('textarea', { id: 'chat-input', rows: 3, placeholder: 'Say something… (Enter sends, Shift+Enter for a new line)' });
  const send = h('button', { id: 'chat-send', class: 'primary' }, 'Send');
  const stopBtn = h('button', { id: 'chat-stop-button', disabled: true }, 'Stop');
  const newBtn = h('button', { id: 'chat-new' }, 'New chat');
  const stats = h('span', { class: 'muted', id: 'chat-stats' });
  let controller: AbortController | null = null;

  const bubble = (m: Msg) => {
    const body = h('div', { class: 'content' }, m.content);
    const el = h('div', { class: `msg ${m.role}` }, h('div', { class: 'role' }, m.role), body);
    log.append(el);
    log.scrollTop = log.scrollHeight;
    return body;
  };
  for (const m of current.messages) bubble(m);

  const sendMessage = async () => {
    const text = input.value.trim();
    if (!text || controller) return;
    input.value = '';
    const userMsg: Msg = { role: 'user', content: text };
    bubble(userMsg);
    const history: Msg[] = [...(system.value.trim() ? [{ role: 'system' as const, content: system.value.trim() }] : []), ...current.messages.filter((m) => m.role !== 'system'), userMsg];
    const params = {
      model: model.value, temperature: num(temperature), top_p: num(topP), max_tokens: num(maxTokens), seed: num(seed),
      stop: stop.value.trim() ? stop.value.split(',').map((s) => s.replace(/\\n/g, '\n')).filter(Boolean) : undefined,
    };
    const reply = bubble({ role: 'assistant', content: '' });
    reply.classList.add('streaming');
    controller = new AbortController();
    send.disabled = true;
    stopBtn.disabled = false;
    const t0 = performance.now();
    let ttft = 0, pieces = 0, finish = '', usage: Record<string, number> | null = null, stopped = false;
    try {
      for await (const ev of postSse('/v1/chat/completions', { ...params, messages: history.map(({ role, content }) => ({ role, content })), stream: true, stream_options: { include_usage: true } }, controller.signal)) {
        if (ev.usage) usage = ev.usage;
        const c = ev.choices?.[0];
        if (!c) continue;
        if (c.delta?.content) {
          if (!pieces++) ttft = performance.now() - t0;
          reply.textContent += c.delta.content;
          log.scrollTop = log.scrollHeight;
        }
        if (c.finish_reason) finish = c.finish_reason;
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError') { stopped = true; finish = 'stopped'; }
      else { reply.append(h('div', { class: 'error' }, e instanceof ApiError ? e.message : String(e))); finish = 'error'; }
    } finally {
      reply.classList.remove('streaming');
      controller = null;
      send.disabled = false;
      stopBtn.disabled = true;
    }
    const ms = performance.now() - t0;
    stats.textContent = `${finish}${stopped ? '' : ` · ${usage?.completion_tokens ?? pieces} tokens`} · first token ${ttft.toFixed(0)} ms · ${ms.toFixed(0)} ms`;
    const assistant: Msg = { role: 'assistant', content: reply.textContent ?? '', meta: { ...params, finish_reason: finish, ttft_ms: Math.round(ttft) } };
    current.messages.push(userMsg, assistant);
    try {
      if (!current.id) {
        const conv = await postJson<Conversation>('/api/conversations', { title: text.slice(0, 80), model: model.value });
        current.id = conv.id;
        history.filter((m) => m.role === 'system').forEach((m) => current.messages.unshift(m));
      }
      await postJson(`/api/conversations/${current.id}/messages`, { messages: [userMsg, assistant] });
    } catch (e) {
      stats.textContent += ` · not saved: ${(e as Error).message}`;
    }
  };

  send.addEventListener('click', () => void sendMessage());
  stopBtn.addEventListener('click', () => controller?.abort());
  newBtn.addEventListener('click', () => { current = { id: null, messages: [] }; log.replaceChildren(); location.hash = '#/chat'; });
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); void sendMessage(); } });

  root.append(
    h('section', { class: 'chat' },
      h('div', { class: 'chat-main' }, log, h('div', { class: 'composer' }, input, h('div', { class: 'row' }, send, stopBtn, newBtn, stats))),
      h('aside', { class: 'params' }, h('h3', {}, 'Parameters'),
        field('Model', model), field('System', system), field('Temperature', temperature, '0 = greedy'), field('Top p', topP),
        field('Max tokens', maxTokens), field('Seed', seed, 'same seed, same reply'), field('Stop', stop))),
  );
  input.focus();
}
