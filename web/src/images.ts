/** Images: a grid from a prompt/class/seed, latent interpolation between two seeds, downloads with metadata. */
import { field, h, info, num, postJson, type ImageModel } from './api.js';

interface ImageItem { url: string; seed: number; label: string | null; id: string; revised_prompt?: string }

export function imageCard(it: { url: string; seed: number; label: string | null; id: string; prompt?: string }, actions: HTMLElement[] = [], caption?: string): HTMLElement {
  const download = it.url + (it.url.includes('?') ? '&' : '?') + 'download=1';
  return h('figure', { class: 'card', 'data-seed': it.seed },
    h('img', { src: it.url, alt: `seed ${it.seed}${it.label !== null ? `, class ${it.label}` : ''}`, loading: 'lazy', decoding: 'async' }),
    h('figcaption', {},
      h('span', {}, caption ?? `seed ${it.seed}${it.label !== null ? ` · class ${it.label}` : ''}`),
      h('a', { href: download, download: `${it.id}.png`, title: 'PNG with prompt, seed, class and model in its metadata' }, 'Download'),
      ...actions));
}

export async function imagesPage(root: HTMLElement): Promise<void> {
  const models = (await info()).models.filter((m): m is ImageModel => m.kind === 'image');
  if (models.length === 0) { root.append(h('p', { class: 'error' }, 'This server has no image model loaded.')); return; }
  const model = h('select', { id: 'img-model' }, ...models.map((m) => h('option', { value: m.id }, m.id)));
  const prompt = h('input', { id: 'img-prompt', placeholder: 'e.g. "a handwritten seven" — a class name in the prompt picks the class', value: '' });
  const label = h('select', { id: 'img-label' });
  const n = h('input', { id: 'img-n', type: 'number', min: 1, max: 16, value: 8 });
  const seed = h('input', { id: 'img-seed', type: 'number', min: 0, placeholder: 'random' });
  const size = h('select', { id: 'img-size' });
  const truncation = h('input', { id: 'img-truncation', type: 'number', min: 0.1, max: 4, step: 0.1, placeholder: 'none' });
  const generate = h('button', { id: 'img-generate', class: 'primary' }, 'Generate');
  const status = h('span', { class: 'muted', id: 'img-status' });
  const grid = h('div', { class: 'grid', id: 'img-grid' });

  const seedA = h('input', { id: 'interp-a', type: 'number', min: 0, value: 1 });
  const seedB = h('input', { id: 'interp-b', type: 'number', min: 0, value: 2 });
  const steps = h('input', { id: 'interp-steps', type: 'number', min: 2, max: 16, value: 8 });
  const interp = h('button', { id: 'interp-go' }, 'Interpolate');
  const strip = h('div', { class: 'strip', id: 'interp-strip' });

  const sync = () => {
    const m = models.find((x) => x.id === model.value)!;
    label.replaceChildren(h('option', { value: '' }, m.labels ? 'from the prompt / random' : 'unconditional model'), ...(m.labels ?? []).map((l) => h('option', { value: l }, l)));
    label.disabled = !m.labels;
    size.replaceChildren(...[1, 2, 4, 8].map((k) => m.imageSize * k).filter((e) => e <= 1024).map((e) => h('option', { value: `${e}x${e}` }, `${e}×${e}`)));
    size.value = `${m.imageSize * 2 <= 1024 ? m.imageSize * 2 : m.imageSize}x${m.imageSize * 2 <= 1024 ? m.imageSize * 2 : m.imageSize}`;
  };
  model.addEventListener('change', sync);
  sync();

  const run = async (btn: HTMLButtonElement, f: () => Promise<void>) => {
    btn.disabled = true;
    status.textContent = 'working…';
    const t0 = performance.now();
    try { await f(); status.textContent = `done in ${(performance.now() - t0).toFixed(0)} ms`; }
    catch (e) { status.textContent = `error: ${(e as Error).message}`; }
    finally { btn.disabled = false; }
  };

  generate.addEventListener('click', () => void run(generate, async () => {
    const r = await postJson<{ data: ImageItem[] }>('/v1/images/generations', {
      model: model.value, prompt: prompt.value, n: num(n) ?? 1, seed: num(seed), size: size.value,
      label: label.value || undefined, truncation: num(truncation), response_format: 'url',
    });
    grid.replaceChildren(...r.data.map((it) => imageCard(it, [
      h('button', { class: 'link', onclick: () => { seedA.value = String(it.seed); } }, 'A'),
      h('button', { class: 'link', onclick: () => { seedB.value = String(it.seed); } }, 'B'),
    ])));
  }));
  interp.addEventListener('click', () => void run(interp, async () => {
    const r = await postJson<{ data: ImageItem[] }>('/v1/images/interpolations', {
      model: model.value, prompt: prompt.value, seed_a: num(seedA), seed_b: num(seedB), steps: num(steps), size: size.value, label: label.value || undefined,
    });
    const last = r.data.length - 1;
    strip.replaceChildren(...r.data.map((it, i) => imageCard(it, [], `${i === 0 ? `A (${num(seedA)})` : i === last ? `B (${num(seedB)})` : `t = ${(i / last).toFixed(2)}`}${it.label !== null ? ` · ${it.label}` : ''}`)));
  }));

  root.append(h('section', { class: 'images' },
    h('div', { class: 'form' },
      field('Model', model), field('Prompt', prompt), field('Class', label), field('Images', n), field('Seed', seed, 'image i uses seed + i'),
      field('Size', size), field('Truncation', truncation, '< 1: less variety, more typical'), h('div', { class: 'row' }, generate, status)),
    grid,
    h('h3', {}, 'Interpolation'),
    h('div', { class: 'form inline' }, field('Seed A', seedA), field('Seed B', seedB), field('Steps', steps), interp),
    strip));
}
