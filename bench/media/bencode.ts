// Bencode, the encoding of rtpengine's ng control protocol: just enough for its offer/answer/delete dictionaries.
export type BValue = string | number | Buffer | BValue[] | { [key: string]: BValue };

export function bencode(value: BValue): Buffer {
  const parts: Buffer[] = [];
  const put = (v: BValue): void => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new TypeError(`bencode integers only, got ${v}`);
      parts.push(Buffer.from(`i${v}e`));
    } else if (typeof v === 'string' || Buffer.isBuffer(v)) {
      const b = typeof v === 'string' ? Buffer.from(v) : v;
      parts.push(Buffer.from(`${b.length}:`), b);
    } else if (Array.isArray(v)) {
      parts.push(Buffer.from('l'));
      v.forEach(put);
      parts.push(Buffer.from('e'));
    } else if (v !== null && typeof v === 'object') {
      parts.push(Buffer.from('d'));
      // Keys sorted as raw strings: the bencode rule, which rtpengine does not need but peers may.
      for (const k of Object.keys(v).sort()) { put(k); put(v[k]!); }
      parts.push(Buffer.from('e'));
    } else {
      throw new TypeError(`cannot bencode ${typeof v}`);
    }
  };
  put(value);
  return Buffer.concat(parts);
}

/** Decodes one value; byte strings come back as UTF-8 text (all the ng protocol carries). */
export function bdecode(buf: Buffer): BValue {
  let pos = 0;
  const fail = (why: string): never => { throw new Error(`bad bencode at byte ${pos}: ${why}`); };
  const read = (depth: number): BValue => {
    if (depth > 32) fail('nested too deep');
    const c = buf[pos];
    if (c === undefined) return fail('truncated');
    if (c === 0x69 /* i */) {
      const end = buf.indexOf(0x65, pos);
      if (end < 0) fail('unterminated integer');
      const n = Number(buf.subarray(pos + 1, end).toString());
      if (!Number.isInteger(n)) fail('bad integer');
      pos = end + 1;
      return n;
    }
    if (c === 0x6c /* l */ || c === 0x64 /* d */) {
      pos++;
      const list: BValue[] = [];
      while (buf[pos] !== 0x65) {
        if (pos >= buf.length) fail('unterminated container');
        list.push(read(depth + 1));
      }
      pos++;
      if (c === 0x6c) return list;
      const dict: Record<string, BValue> = {};
      for (let i = 0; i + 1 < list.length; i += 2) dict[String(list[i])] = list[i + 1]!;
      return dict;
    }
    const colon = buf.indexOf(0x3a, pos);
    const len = Number(buf.subarray(pos, colon).toString());
    if (colon < 0 || !Number.isInteger(len) || len < 0 || colon + 1 + len > buf.length) fail('bad string length');
    pos = colon + 1 + len;
    return buf.subarray(colon + 1, pos).toString();
  };
  const v = read(0);
  if (pos !== buf.length) fail('trailing bytes');
  return v;
}
