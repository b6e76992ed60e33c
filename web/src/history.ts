/** History: stored conversations (reopen or delete) and generated images. */
import { del, getJson, h } from './api.js';
import { imageCard } from './images.js';

interface Conversation { id: string; title: string; model: string; updatedAt: number }
interface ImageRow { id: string; url: string; seed: number; label: string | null; prompt: string; model: string; created_at: number }

export async function historyPage(root: HTMLElement): Promise<void> {
  const [convs, images] = await Promise.all([
    getJson<{ data: Conversation[] }>('/api/conversations'),
    getJson<{ data: ImageRow[] }>('/api/images?limit=120'),
  ]);
  const list = h('ul', { class: 'conversations', id: 'history-conversations' },
    ...convs.data.map((c) => h('li', {},
      h('a', { href: `#/chat/${c.id}` }, c.title || '(untitled)'),
      h('span', { class: 'muted' }, ` ${c.model} · ${new Date(c.updatedAt).toLocaleString()} `),
      h('button', { class: 'link', onclick: async (e: Event) => { await del(`/api/conversations/${c.id}`); (e.target as HTMLElement).closest('li')!.remove(); } }, 'delete'))));
  if (convs.data.length === 0) list.append(h('li', { class: 'muted' }, 'No conversations yet.'));
  const grid = h('div', { class: 'grid', id: 'history-images' }, ...images.data.map((i) => imageCard({ ...i })));
  if (images.data.length === 0) grid.append(h('p', { class: 'muted' }, 'No images yet.'));
  root.append(h('section', { class: 'history' }, h('h3', {}, 'Conversations'), list, h('h3', {}, 'Images'), grid));
}
