/**
 * Stop strings over streamed text. Text is released only when it cannot be the start of a stop
 * string, so a stream never shows a stop string (or part of one) that is later cut off.
 */
export class StopStringMatcher {
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.done;
  }

  /** Adds a chunk; returns the text that is now safe to show, and whether a stop string ended the text. */
  push(chunk: string): { text: string; stopped: boolean } {
    if (this.done) return { text: '', stopped: true };
    const buf = this.held + chunk;
    if (this.stops.length === 0) return { text: buf, stopped: false };
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.done = true;
      this.held = '';
      return { text: buf.slice(0, cut), stopped: true };
    }
    // Hold back the longest suffix that is a proper prefix of some stop string.
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > keep; n--) {
        if (buf.endsWith(s.slice(0, n))) { keep = n; break; }
      }
    }
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** End of text: whatever was held back (it did not turn into a stop string). */
  flush(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }
}
