const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * What a relay may pass on of the text a framer has read: everything up to the framer's last complete
 * element (or stream header), then any whitespace after it (keepalives must not wait for the next stanza).
 * The rest, an element still arriving, waits, so the far side only ever sees whole elements the edge has
 * checked, and a stream error can always be written between two of them.
 */
export class ElementGate {
  #pending = '';
  #released = 0;

  /** Adds text the framer has just read (`completed`: its absolute position of the last whole unit). */
  take(text: string, completed: number): string {
    this.#pending += text;
    let n = Math.max(0, completed - this.#released);
    while (n < this.#pending.length && isSpace(this.#pending.charCodeAt(n))) n++;
    if (n === 0) return '';
    const out = this.#pending.slice(0, n);
    this.#pending = this.#pending.slice(n);
    this.#released += n;
    return out;
  }
}
