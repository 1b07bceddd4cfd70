/** The direct children named `name` of an element's content, as their inner text. */
function children(content: string, name: string): string[] {
  const out: string[] = [];
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)([^>]*?)(\/?)>/g;
  let depth = 0;
  let start = -1;
  for (let m = tag.exec(content); m; m = tag.exec(content)) {
    const [whole, close, tagName, , selfClose] = m as unknown as [string, string, string, string, string];
    if (whole.startsWith('<?')) continue;
    if (close) {
      depth--;
      if (depth === 0 && tagName === name && start >= 0) out.push(content.slice(start, m.index));
      if (depth === 0) start = -1;
    } else if (selfClose) {
      if (depth === 0 && tagName === name) out.push('');
    } else {
      if (depth === 0 && tagName === name) start = m.index + whole.length;
      depth++;
    }
  }
  return out;
}

/** Every text value at a slash-separated element path from the document root (direct children each step). */
export function xmlValues(xml: string, path: string): string[] {
  let scopes = [xml.replace(/^<\?xml[^>]*\?>/, '')];
  for (const name of path.split('/')) scopes = scopes.flatMap((s) => children(s, name));
  return scopes;
}

export function xmlValue(xml: string, path: string): string {
  const v = xmlValues(xml, path);
  if (v.length !== 1) throw new Error(`expected one ${path}, found ${v.length} in ${xml.slice(0, 300)}`);
  return v[0]!;
}
