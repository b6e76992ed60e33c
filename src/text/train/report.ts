/**
 * What a training run shows: a progress line on stderr (step, loss, tokens/s, ETA), and a loss
 * curve as an SVG file at the end.
 */

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, '0'), ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** A one-line progress bar, redrawn in place on a TTY and printed every `every` steps otherwise. */
export class ProgressLine {
  private lastPrint = 0;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly quiet = false) {}

  update(step: number, total: number, fields: { loss: number; tokensPerS: number; eta: number; lr: number }): void {
    if (this.quiet) return;
    const width = 24;
    const frac = Math.min(1, step / total);
    const fill = Math.round(frac * width);
    const bar = '█'.repeat(fill) + '░'.repeat(width - fill);
    const text = `step ${String(step).padStart(String(total).length)}/${total} ${bar} loss ${fields.loss.toFixed(4)} | ${Math.round(fields.tokensPerS)} tok/s | lr ${fields.lr.toExponential(2)} | ETA ${formatDuration(fields.eta)}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${text}\x1b[K`);
    } else {
      const now = Date.now();
      if (now - this.lastPrint >= 10_000 || step === total || step === 1) {
        this.stream.write(text + '\n');
        this.lastPrint = now;
      }
    }
  }

  /** A message on its own line (the bar is redrawn on the next update). */
  log(msg: string): void {
    if (this.quiet) return;
    this.stream.write((this.stream.isTTY ? '\r\x1b[K' : '') + msg + '\n');
  }

  end(): void {
    if (!this.quiet && this.stream.isTTY) this.stream.write('\n');
  }
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * An SVG of training loss per step (light), its running mean (dark) and validation loss (dots).
 */
export function lossCurveSvg(train: readonly (readonly [number, number, ...number[]])[], val: readonly (readonly [number, number])[], title = 'training loss'): string {
  const W = 720, H = 400, L = 60, R = 20, T = 36, B = 44;
  const pts = train.filter(([, l]) => Number.isFinite(l));
  const vpts = val.filter(([, l]) => Number.isFinite(l));
  const all = [...pts.map((p) => p[1]), ...vpts.map((p) => p[1])];
  const steps = [...pts.map((p) => p[0]), ...vpts.map((p) => p[0])];
  const x0 = Math.min(...steps, 0), x1 = Math.max(...steps, 1);
  let y0 = Math.min(...all, 0), y1 = Math.max(...all, 1);
  if (all.length) { y0 = Math.max(0, Math.min(...all) - 0.05 * (Math.max(...all) - Math.min(...all))); y1 = Math.max(...all) * 1.02 + 1e-6; }
  const sx = (s: number) => L + ((s - x0) / Math.max(1e-9, x1 - x0)) * (W - L - R);
  const sy = (v: number) => T + (1 - (v - y0) / Math.max(1e-9, y1 - y0)) * (H - T - B);
  const line = (p: readonly (readonly [number, number, ...number[]])[]) => p.map(([s, v], i) => `${i ? 'L' : 'M'}${sx(s).toFixed(1)},${sy(v).toFixed(1)}`).join('');
  // Running mean over ~2% of the run.
  const k = Math.max(1, Math.round(pts.length / 50));
  const smooth: [number, number][] = [];
  let acc = 0;
  for (let i = 0; i < pts.length; i++) {
    acc += pts[i][1];
    if (i >= k) acc -= pts[i - k][1];
    if (i >= k - 1) smooth.push([pts[i][0], acc / k]);
  }
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  for (const v of niceTicks(y0, y1)) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${L - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`);
  }
  for (const s of niceTicks(x0, x1)) {
    parts.push(`<line x1="${sx(s).toFixed(1)}" x2="${sx(s).toFixed(1)}" y1="${H - B}" y2="${H - B + 4}" stroke="#333"/>`);
    parts.push(`<text x="${sx(s).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${s}</text>`);
  }
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">step</text>`);
  parts.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">cross-entropy (nats/token)</text>`);
  if (pts.length) parts.push(`<path d="${line(pts)}" fill="none" stroke="#9ecae1" stroke-width="1"/>`);
  if (smooth.length) parts.push(`<path d="${line(smooth)}" fill="none" stroke="#08519c" stroke-width="2"/>`);
  for (const [s, v] of vpts) parts.push(`<circle cx="${sx(s).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3.5" fill="#e6550d"/>`);
  const lx = W - R - 170;
  parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="${T + 8}" y2="${T + 8}" stroke="#08519c" stroke-width="2"/><text x="${lx + 26}" y="${T + 12}">train (running mean)</text>`);
  if (vpts.length) parts.push(`<circle cx="${lx + 10}" cy="${T + 26}" r="3.5" fill="#e6550d"/><text x="${lx + 26}" y="${T + 30}">validation</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
