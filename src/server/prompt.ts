/** Text helpers of the API layer: stop-string filtering for streams and class labels from image prompts. */

/**
 * Streams text through while holding back any tail that could be the start of a stop string;
 * `push` returns the text safe to emit and whether a stop string was hit (the text is cut
 * before it, as OpenAI does).
 */
export class StopFilter {
  private held = '';
  stopped = false;
  constructor(private readonly stops: readonly string[]) {}

  push(piece: string): { emit: string; stopped: boolean } {
    if (this.stopped) return { emit: '', stopped: true };
    if (this.stops.length === 0) return { emit: piece, stopped: false };
    const buf = this.held + piece;
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.held = '';
      return { emit: buf.slice(0, cut), stopped: true };
    }
    // Hold back the longest suffix of buf that is a proper prefix of some stop string.
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, buf.length); k > hold; k--) {
        if (buf.endsWith(s.slice(0, k))) { hold = k; break; }
      }
    }
    this.held = buf.slice(buf.length - hold);
    return { emit: buf.slice(0, buf.length - hold), stopped: false };
  }

  /** The held-back tail at the end of generation (it never completed a stop string). */
  flush(): string {
    const t = this.stopped ? '' : this.held;
    this.held = '';
    return t;
  }
}

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Finds the class a prompt asks for: an explicit `class: X` / `label=X`, else the earliest
 * label named in the prompt as a whole word (case-insensitive; digit labels also match their
 * English names, "a handwritten seven" → "7"). Null when none is named.
 */
export function parseLabel(prompt: string, labels: readonly string[]): string | null {
  const explicit = /\b(?:class|label)\s*[:=]?\s*([\w-]+)/i.exec(prompt);
  if (explicit) {
    const want = explicit[1].toLowerCase();
    const hit = labels.find((l) => l.toLowerCase() === want) ?? labels.find((l) => /^\d$/.test(l) && NUMBER_WORDS[Number(l)] === want);
    if (hit !== undefined) return hit;
  }
  let best: { at: number; label: string } | null = null;
  for (const label of labels) {
    const names = [label];
    if (/^\d$/.test(label)) names.push(NUMBER_WORDS[Number(label)]);
    for (const name of names) {
      const m = new RegExp(`(?<![\\w])${escapeRe(name)}(?![\\w])`, 'i').exec(prompt);
      if (m && (!best || m.index < best.at)) best = { at: m.index, label };
    }
  }
  return best?.label ?? null;
}

/** OpenAI `size` ("64x64") → a square edge, or null when it is not square / not a number. */
export function parseSize(size: string): { w: number; h: number } | null {
  const m = /^(\d{1,4})x(\d{1,4})$/.exec(size);
  if (!m) return null;
  return { w: Number(m[1]), h: Number(m[2]) };
}
