import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log/index.js';
import type { NodeContext } from '../host/index.js';
import { ruleUrl, type AllowList, type AllowRule, type MatchType } from './allow-list.js';
import { formatAllowCsv, parseAllowCsv } from './allow-list-csv.js';

/**
 * The allow list as an operator edits it (mra-edge allow-list, the admin API): show, add, remove, import and
 * export of the editable rules in the seeds' CSV format. Rules from the YAML stay; the operator's are kept in
 * http.allow_list.csv_file when it is configured (rewritten after each change, so a restart keeps them), and
 * only in memory otherwise (the answer says so).
 */
export function attachAllowListAdmin(
  ctx: Pick<NodeContext<unknown>, 'addAction' | 'addQuery'>,
  allowList: AllowList,
  opts: { csvFile?: string; log: Logger },
): { loadCsv(): unknown } {
  const { csvFile, log } = opts;
  const configured = [...allowList.rules().editable];
  const fromYaml = new Set(configured.map(ruleUrl));
  const operatorRules = () => allowList.rules().editable.filter((r) => !fromYaml.has(ruleUrl(r)));
  const persist = () => {
    if (!csvFile)
      return {
        persisted: false,
        note: 'kept in memory only: set http.allow_list.csv_file to keep operator rules across a restart',
      };
    const tmp = `${csvFile}.${process.pid}.tmp`;
    writeFileSync(tmp, formatAllowCsv(operatorRules()), { mode: 0o640 });
    renameSync(tmp, csvFile);
    return { persisted: true, file: csvFile };
  };
  const loadCsv = () => {
    if (!csvFile) throw new Error('http.allow_list.csv_file is not configured');
    let rules: ReturnType<typeof parseAllowCsv>;
    try {
      rules = parseAllowCsv(readFileSync(csvFile, 'utf8'));
    } catch (err) {
      throw new Error(`http.allow_list.csv_file ${csvFile}: ${(err as Error).message}`);
    }
    allowList.replaceEditable([...configured, ...rules]);
    log.info({ file: csvFile, rules: rules.length }, 'http allow list rules loaded from CSV');
    return { file: csvFile, rules: rules.length };
  };
  const text = (v: unknown, field: string): string => {
    if (typeof v !== 'string' || v.trim() === '') throw new Error(`${field} is required (a string)`);
    return v.trim();
  };
  const view = (r: AllowRule) => ({
    url: ruleUrl(r),
    methods: r.methods,
    match: r.match,
    deployment: r.deployment,
    description: r.description,
    automatic: r.automatic,
    ...(r.automatic ? {} : { source: fromYaml.has(ruleUrl(r)) ? 'configuration' : 'operator' }),
  });

  ctx.addQuery('allow-list', () => [...allowList.rules().automatic, ...allowList.rules().editable].map(view));
  ctx.addAction('http-allow-list-add', async (input) => {
    const methods =
      input.methods === undefined
        ? undefined
        : Array.isArray(input.methods)
          ? input.methods.map(String)
          : String(input.methods).split(',');
    const match = input.match === undefined ? undefined : (text(input.match, 'match') as MatchType);
    if (match !== undefined && match !== 'exact' && match !== 'prefix')
      throw new Error('match must be exact or prefix');
    const url = text(input.url, 'url');
    if (allowList.rules().editable.some((r) => ruleUrl(r) === url))
      throw new Error(`${url} is already on the allow list`);
    const rule = allowList.addRule({
      url,
      ...(methods ? { methods } : {}),
      ...(match ? { match } : {}),
      deployment: typeof input.deployment === 'string' ? input.deployment : 'default',
      description: typeof input.description === 'string' ? input.description : '',
    });
    log.info({ url: ruleUrl(rule) }, 'http allow list rule added');
    return { added: view(rule), ...persist() };
  });
  ctx.addAction('http-allow-list-remove', async (input) => {
    const url = text(input.url, 'url');
    if (fromYaml.has(url)) throw new Error(`${url} comes from the configuration file: remove it there`);
    if (!allowList.removeRule(url))
      throw new Error(
        `${url} is not an editable rule on the allow list (automatic rules follow discovery and cannot be removed)`,
      );
    log.info({ url }, 'http allow list rule removed');
    return { removed: url, ...persist() };
  });
  ctx.addAction('http-allow-list-import', async (input) => {
    const rules = parseAllowCsv(text(input.csv, 'csv'));
    allowList.replaceEditable([...configured, ...rules]);
    log.info({ rules: rules.length }, 'http allow list rules imported');
    return { imported: rules.length, ...persist() };
  });
  // The operator's upload is the file (then this action), the export is the same format back.
  ctx.addAction('http-allow-list-reload', async () => loadCsv());
  ctx.addAction('http-allow-list-export', async () => ({
    csv: formatAllowCsv(allowList.rules().editable),
    automatic: allowList.rules().automatic.map(ruleUrl),
  }));
  return { loadCsv };
}
