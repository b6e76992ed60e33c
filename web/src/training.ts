/** Training: start a job, follow it live (loss chart and sample grids over SSE), cancel it. */
import { field, getJson, h, num, postJson } from './api.js';

interface Job { id: string; kind: string; status: string; params: Record<string, unknown>; progress: { step?: number; total_steps?: number; losses?: Record<string, number> }; error: string | null; created_at: number; result_model: string | null }

const COLORS = ['#4f7cff', '#ff7a45', '#2bb673', '#b45cff', '#d9a400'];

/** A loss chart on a canvas: one line per loss name, steps on x. */
class LossChart {
  readonly canvas = h('canvas', { width: 640, height: 260, id: 'loss-chart', class: 'chart' });
  private series = new Map<string, [number, number][]>();

  add(step: number, losses: Record<string, number>): void {
    for (const [k, v] of Object.entries(losses)) {
      if (!Number.isFinite(v)) continue;
      if (!this.series.has(k)) this.series.set(k, []);
      const pts = this.series.get(k)!;
      // Sample events repeat the latest losses at their own step: keep the curve monotone in steps.
      if (pts.length && pts[pts.length - 1][0] >= step) continue;
      pts.push([step, v]);
    }
    this.draw();
  }

  get points(): number { return [...this.series.values()].reduce((a, s) => a + s.length, 0); }

  draw(): void {
    const c = this.canvas.getContext('2d')!;
    const W = this.canvas.width, H = this.canvas.height, pad = 36;
    c.clearRect(0, 0, W, H);
    const all = [...this.series.values()].flat();
    if (all.length === 0) return;
    const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), y0 = Math.min(0, ...ys), y1 = Math.max(...ys, y0 + 1e-6);
    const X = (x: number) => pad + ((x - x0) / (x1 - x0)) * (W - 2 * pad);
    const Y = (y: number) => H - pad - ((y - y0) / (y1 - y0)) * (H - 2 * pad);
    c.strokeStyle = '#8886'; c.beginPath(); c.moveTo(pad, pad / 2); c.lineTo(pad, H - pad); c.lineTo(W - pad / 2, H - pad); c.stroke();
    c.fillStyle = '#888'; c.font = '11px system-ui';
    c.fillText(y1.toFixed(2), 2, Y(y1) + 4); c.fillText(y0.toFixed(2), 2, Y(y0)); c.fillText(`step ${x1}`, W - pad - 40, H - 8);
    let i = 0;
    for (const [name, pts] of this.series) {
      const col = COLORS[i % COLORS.length];
      c.strokeStyle = col; c.lineWidth = 1.5; c.beginPath();
      pts.forEach(([x, y], k) => (k ? c.lineTo(X(x), Y(y)) : c.moveTo(X(x), Y(y))));
      c.stroke();
      c.fillStyle = col; c.fillText(name, W - pad - 60, pad / 2 + 14 * (i + 1));
      i++;
    }
  }
}

let source: EventSource | null = null;

export async function trainingPage(root: HTMLElement): Promise<void> {
  const kind = h('select', { id: 'train-kind' }, h('option', { value: 'image' }, 'image (DCGAN)'), h('option', { value: 'text' }, 'text (GPT-2)'));
  const preset = h('select', { id: 'train-preset' }, ...['dcgan28', 'dcgan32', 'dcgan64', 'seed64'].map((p) => h('option', { value: p }, p)));
  const dataset = h('select', { id: 'train-dataset' }, h('option', { value: 'mnist' }, 'MNIST (bundled)'));
  const corpus = h('textarea', { id: 'train-text', rows: 4, placeholder: 'text to train on (text jobs)' });
  const steps = h('input', { id: 'train-steps', type: 'number', min: 1, value: 200 });
  const batch = h('input', { id: 'train-batch', type: 'number', min: 1, value: 32 });
  const lr = h('input', { id: 'train-lr', type: 'number', step: 0.0001, min: 0, placeholder: 'default' });
  const sampleEvery = h('input', { id: 'train-sample-every', type: 'number', min: 1, value: 50 });
  const seed = h('input', { id: 'train-seed', type: 'number', min: 0, value: 0 });
  const start = h('button', { id: 'train-start', class: 'primary' }, 'Start');
  const msg = h('span', { class: 'muted' });
  const list = h('table', { class: 'jobs', id: 'train-jobs' });
  const detail = h('div', { class: 'job-detail', id: 'train-detail' });

  const syncKind = () => {
    const img = kind.value === 'image';
    for (const el of [preset, dataset]) (el.closest('label') as HTMLElement).hidden = !img;
    (corpus.closest('label') as HTMLElement).hidden = img;
  };
  kind.addEventListener('change', syncKind);

  const refresh = async () => {
    const jobs = (await getJson<{ data: Job[] }>('/v1/training/jobs')).data;
    list.replaceChildren(h('tr', {}, h('th', {}, 'job'), h('th', {}, 'kind'), h('th', {}, 'status'), h('th', {}, 'progress'), h('th', {})),
      ...jobs.map((j) => h('tr', {},
        h('td', {}, h('a', { href: `#/training/${j.id}` }, j.id.slice(0, 12))), h('td', {}, j.kind), h('td', { class: `status-${j.status}` }, j.status),
        h('td', {}, j.progress.step ? `${j.progress.step}/${j.progress.total_steps}` : ''),
        h('td', {}, ['queued', 'running'].includes(j.status) ? h('button', { class: 'link', onclick: async () => { await postJson(`/v1/training/jobs/${j.id}/cancel`, {}); await refresh(); } }, 'cancel') : ''))));
  };

  start.addEventListener('click', async () => {
    start.disabled = true;
    try {
      const body: Record<string, unknown> = { kind: kind.value, steps: num(steps), batch_size: num(batch), learning_rate: num(lr), sample_every: num(sampleEvery), seed: num(seed) };
      if (kind.value === 'image') Object.assign(body, { preset: preset.value, dataset: dataset.value });
      else body.text = corpus.value;
      const job = await postJson<Job>('/v1/training/jobs', body);
      location.hash = `#/training/${job.id}`;
    } catch (e) { msg.textContent = (e as Error).message; }
    finally { start.disabled = false; }
  });

  root.append(h('section', { class: 'training' },
    h('div', { class: 'form' }, field('Kind', kind), field('Preset', preset), field('Data', dataset), field('Corpus', corpus), field('Steps', steps), field('Batch size', batch),
      field('Learning rate', lr), field('Sample every', sampleEvery, 'steps between sample grids'), field('Seed', seed), h('div', { class: 'row' }, start, msg)),
    h('div', {}, h('h3', {}, 'Jobs'), list, detail)));
  syncKind();
  await refresh();

  const id = location.hash.split('/')[2];
  if (id) follow(id, detail, refresh);
}

function follow(id: string, detail: HTMLElement, refresh: () => Promise<void>): void {
  source?.close();
  const chart = new LossChart();
  const status = h('div', { id: 'train-status' }, 'connecting…');
  const samples = h('div', { class: 'samples', id: 'train-samples' });
  const cancel = h('button', { id: 'train-cancel' }, 'Cancel job');
  cancel.addEventListener('click', () => void postJson(`/v1/training/jobs/${id}/cancel`, {}));
  detail.replaceChildren(h('h3', {}, `Job ${id}`), status, cancel, chart.canvas, h('h4', {}, 'Samples'), samples);
  source = new EventSource(`/v1/training/jobs/${id}/events`);
  source.onmessage = (m) => {
    if (m.data === '[DONE]') { source?.close(); void refresh(); return; }
    const e = JSON.parse(m.data);
    if (e.type === 'status') {
      status.textContent = `${e.job.status}${e.job.error ? ': ' + e.job.error : ''}${e.job.result_model ? ` — model ${e.job.result_model}` : ''}`;
      status.className = `status-${e.job.status}`;
      cancel.hidden = !['queued', 'running'].includes(e.job.status);
      void refresh();
    } else if (e.type === 'progress') {
      chart.add(e.step, e.losses);
      status.textContent = `running: step ${e.step}/${e.total_steps} ${Object.entries(e.losses as Record<string, number>).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' ')}`;
      if (e.sample_url) samples.prepend(h('figure', { class: 'card' }, h('img', { src: e.sample_url, alt: `sample at step ${e.step}` }), h('figcaption', {}, `step ${e.step}`)));
    }
  };
  source.onerror = () => { status.textContent += ' (connection lost; retrying)'; };
}

/** Leaving the page: stop listening. */
export function stopFollowing(): void {
  source?.close();
  source = null;
}
