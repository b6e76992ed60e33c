/** Text helpers of the API layer: class labels from image prompts. */

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
