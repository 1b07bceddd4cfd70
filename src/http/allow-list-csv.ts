import { MraError } from '../host/index.js';
import { checkMethods, parseRuleUrl, ruleUrl, type AllowRule, type MatchType } from './allow-list.js';

/**
 * The seeds' upload and export format for editable rules: `Url,Deployment,HttpMethods,MatchType,Description`,
 * values with commas or spaces quoted, MatchType `exact` or `prefix` (default prefix), HttpMethods empty for
 * "use the default set".
 */
export const CSV_HEADER = 'Url,Deployment,HttpMethods,MatchType,Description';

export class CsvError extends MraError {
  readonly code = 'MRA_HTTP_ALLOW_LIST_CSV';

  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** RFC 4180 fields of one line; a quote inside a quoted field is doubled. */
export function splitCsvLine(line: string, lineNo: number): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new CsvError(lineNo, 'unterminated quoted value');
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new CsvError(lineNo, 'text after a closing quote');
    } else {
      const end = line.indexOf(',', i);
      field = end < 0 ? line.slice(i) : line.slice(i, end);
      if (field.includes('"')) throw new CsvError(lineNo, 'a quote inside an unquoted value');
      i = end < 0 ? line.length : end;
    }
    fields.push(field.trim());
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

export function parseAllowCsv(text: string, deployments: readonly string[] = ['default']): AllowRule[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0]?.trim();
  if (header?.toLowerCase() !== CSV_HEADER.toLowerCase()) throw new CsvError(1, `header must be "${CSV_HEADER}"`);
  const rules: AllowRule[] = [];
  for (let n = 1; n < lines.length; n++) {
    const raw = lines[n]!;
    if (raw.trim() === '') continue;
    const f = splitCsvLine(raw, n + 1);
    if (f.length !== 5) throw new CsvError(n + 1, `expected 5 values, found ${f.length}`);
    const [url, deployment, methods, match, description] = f as [string, string, string, string, string];
    if (!url) throw new CsvError(n + 1, 'Url is required');
    if (!deployment && deployments.length > 1)
      throw new CsvError(n + 1, 'Deployment is required when there is more than one');
    if (deployment && !deployments.includes(deployment))
      throw new CsvError(n + 1, `unknown deployment "${deployment}"`);
    const m = (match || 'prefix').toLowerCase();
    if (m !== 'exact' && m !== 'prefix') throw new CsvError(n + 1, 'MatchType must be exact or prefix');
    try {
      rules.push({
        ...parseRuleUrl(url),
        match: m as MatchType,
        methods: methods ? checkMethods(methods.split(',')) : 'default',
        deployment: deployment || deployments[0] || 'default',
        description,
        automatic: false,
      });
    } catch (err) {
      throw new CsvError(n + 1, (err as Error).message);
    }
  }
  return rules;
}

function quote(v: string): string {
  return /[",\s]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function formatAllowCsv(rules: readonly AllowRule[]): string {
  const rows = rules.map((r) =>
    [ruleUrl(r), r.deployment, r.methods === 'default' ? '' : r.methods.join(','), r.match, r.description]
      .map(quote)
      .join(','),
  );
  return `${[CSV_HEADER, ...rows].join('\n')}\n`;
}
