/** Loss curves as a PNG: an SVG line chart rendered by sharp (librsvg). */
import sharp from 'sharp';
import type { HistoryPoint } from './checkpoint.js';

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

export async function lossCurvesPng(history: HistoryPoint[], title: string, metrics: { step: number; frechet: number }[] = []): Promise<Buffer> {
  const W = 900, H = 440, L = 60, R = 20, T = 60, B = 50;
  const series: { key: keyof HistoryPoint; color: string; label: string }[] = [
    { key: 'dLoss', color: '#d62728', label: 'D loss' },
    { key: 'gLoss', color: '#1f77b4', label: 'G loss' },
    { key: 'dReal', color: '#2ca02c', label: 'D(x)' },
    { key: 'dFake', color: '#ff7f0e', label: 'D(G(z))' },
  ];
  const pts = history.length ? history : [{ step: 0, dLoss: 0, gLoss: 0, dReal: 0, dFake: 0 }];
  const x0 = pts[0].step, x1 = Math.max(pts[pts.length - 1].step, x0 + 1);
  let yMax = 0;
  for (const p of pts) for (const s of series) yMax = Math.max(yMax, p[s.key]);
  yMax = Math.max(1, Math.ceil(yMax * 2) / 2);
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => T + (1 - y / yMax) * (H - T - B);
  const lines = series.map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.map((p) => `${sx(p.step).toFixed(1)},${sy(p[s.key]).toFixed(1)}`).join(' ')}"/>`);
  const grid: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    grid.push(`<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/><text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end" font-size="12">${y.toFixed(2)}</text>`);
    const x = x0 + ((x1 - x0) * i) / 4;
    grid.push(`<text x="${sx(x)}" y="${H - B + 18}" text-anchor="middle" font-size="12">${Math.round(x)}</text>`);
  }
  const legend = series.map((s, i) => `<rect x="${L + 10 + i * 110}" y="${T - 26}" width="14" height="4" fill="${s.color}"/><text x="${L + 28 + i * 110}" y="${T - 20}" font-size="12">${s.label}</text>`);
  const fd = metrics.length ? `<text x="${W - R}" y="${T - 20}" text-anchor="end" font-size="12">Fréchet distance: ${metrics.map((m) => `${m.frechet.toFixed(1)}@${m.step}`).slice(-4).join(', ')}</text>` : '';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="16" text-anchor="middle" font-size="14" font-family="sans-serif">${esc(title)}</text>
<g font-family="sans-serif">${grid.join('')}${legend.join('')}${fd}</g>
<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>
<text x="${(W + L) / 2}" y="${H - 10}" text-anchor="middle" font-size="12" font-family="sans-serif">training step</text>
${lines.join('\n')}
</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
