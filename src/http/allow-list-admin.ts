import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log/index.js';
import { BadInput, shareSetting, type NodeContext, type SharingContext } from '../host/index.js';
import { parseRuleUrl, ruleUrl, type AllowList, type AllowRule, type MatchType } from './allow-list.js';
import { formatAllowCsv, parseAllowCsv } from './allow-list-csv.js';
import { docRules, parseAllowListDoc, toDoc, type AllowListDoc } from './allow-list-doc.js';

/**
 * The allow list as an operator edits it (mra-edge allow-list, the admin API): show, add, remove, import and
 * export of the editable rules in the seeds' CSV format. Rules from the YAML stay; the operator's are kept in
 * http.allow_list.csv_file when it is configured (rewritten after each change, so a restart keeps them), and
 * only in memory otherwise (the answer says so). On a shared store the editable rules and the default methods are
 * the cluster's (docs/cluster.md, "Shared configuration"): a change on one core is in force on every core, and each
 * rewrites its own CSV file with it.
 */
export function attachAllowListAdmin(
  ctx: SharingContext & Pick<NodeContext<unknown>, 'addQuery'>,
  allowList: AllowList,
  opts: { csvFile?: string; log: Logger },
): { loadCsv(): unknown; shared: Promise<void> } {
  const { csvFile, log } = opts;
  const configured = [...allowList.rules().editable];
  const configuredDefaults = [...allowList.defaultMethods];
  const fromYaml = new Set(configured.map(ruleUrl));
  const operatorRules = () => allowList.rules().editable.filter((r) => !fromYaml.has(ruleUrl(r)));
  let started = false;
  const persisted = () => {
    if (csvFile) return { persisted: true, file: csvFile };
    return {
      persisted: false,
      note: ctx.store.shared
        ? "kept in the cluster's store: every core applies it (set http.allow_list.csv_file to keep a copy in a file)"
        : 'kept in memory only: set http.allow_list.csv_file to keep operator rules across a restart',
    };
  };
  const persist = () => {
    if (!csvFile) return;
    try {
      const tmp = `${csvFile}.${process.pid}.tmp`;
      writeFileSync(tmp, formatAllowCsv(operatorRules()), { mode: 0o640 });
      renameSync(tmp, csvFile);
    } catch (err) {
      log.error(
        { file: csvFile, err: (err as Error).message },
        'http allow list rules could not be written to the CSV file',
      );
    }
  };
  const readCsv = (): AllowRule[] => {
    if (!csvFile) throw new Error('http.allow_list.csv_file is not configured');
    try {
      return parseAllowCsv(readFileSync(csvFile, 'utf8'));
    } catch (err) {
      throw new Error(`http.allow_list.csv_file ${csvFile}: ${(err as Error).message}`);
    }
  };
  const current = (): AllowListDoc => toDoc(allowList.defaultMethods, allowList.rules().editable);
  const setting = shareSetting<AllowListDoc>(ctx, {
    name: 'allow-list',
    parse: parseAllowListDoc,
    apply: (doc) => {
      allowList.setDefaultMethods(doc.default_methods);
      allowList.replaceEditable(docRules(doc));
      // At start a file that differs from the cluster's copy is reported and left as it is (the operator's to settle).
      if (started) persist();
    },
    // This node's own copy: the YAML's rules and, when configured, the CSV file as it is now.
    local: () => {
      let fromFile: AllowRule[] = [];
      if (csvFile && existsSync(csvFile))
        try {
          fromFile = readCsv();
        } catch (err) {
          log.warn(
            { err: (err as Error).message },
            'http allow list CSV file unreadable; comparing the YAML rules only',
          );
        }
      return toDoc(configuredDefaults, [...configured, ...fromFile]);
    },
  });
  const change = async (doc: AllowListDoc) => {
    const copy = await setting.change(doc);
    return { version: copy.version, shared: ctx.store.shared, ...persisted() };
  };
  const loadCsv = () => {
    const rules = readCsv();
    allowList.replaceEditable([...configured, ...rules]);
    log.info({ file: csvFile, rules: rules.length }, 'http allow list rules loaded from CSV');
    return { file: csvFile, rules: rules.length };
  };
  const text = (v: unknown, field: string): string => {
    if (typeof v !== 'string' || v.trim() === '') throw new BadInput(`${field} is required (a string)`);
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
      throw new BadInput('match must be exact or prefix');
    const url = text(input.url, 'url');
    if (allowList.rules().editable.some((r) => ruleUrl(r) === url))
      throw new BadInput(`${url} is already on the allow list`);
    const doc = current();
    doc.rules.push({
      url,
      methods: methods ?? 'default',
      match: match ?? 'prefix',
      deployment: typeof input.deployment === 'string' && input.deployment ? input.deployment : 'default',
      description: typeof input.description === 'string' ? input.description : '',
    });
    const done = await change(doc);
    const rule = allowList.rules().editable.at(-1)!;
    log.info({ url: ruleUrl(rule), version: done.version }, 'http allow list rule added');
    return { added: view(rule), ...done };
  });
  ctx.addAction('http-allow-list-remove', async (input) => {
    const url = text(input.url, 'url');
    if (fromYaml.has(url)) throw new BadInput(`${url} comes from the configuration file: remove it there`);
    const doc = current();
    let target: string;
    try {
      target = ruleUrl(parseRuleUrl(url));
    } catch (err) {
      throw new BadInput(`url: ${(err as Error).message}`);
    }
    const left = doc.rules.filter((r) => r.url !== target);
    if (left.length === doc.rules.length)
      throw new BadInput(
        `${url} is not an editable rule on the allow list (automatic rules follow discovery and cannot be removed)`,
      );
    const done = await change({ ...doc, rules: left });
    log.info({ url, version: done.version }, 'http allow list rule removed');
    return { removed: url, ...done };
  });
  ctx.addAction('http-allow-list-import', async (input) => {
    const rules = parseAllowCsv(text(input.csv, 'csv'));
    const done = await change(toDoc(allowList.defaultMethods, [...configured, ...rules]));
    log.info({ rules: rules.length, version: done.version }, 'http allow list rules imported');
    return { imported: rules.length, ...done };
  });
  // The operator's upload is the file (then this action), the export is the same format back. In a cluster the
  // file's rules become the cluster's.
  ctx.addAction('http-allow-list-reload', async () => {
    const rules = readCsv();
    const done = await change(toDoc(allowList.defaultMethods, [...configured, ...rules]));
    log.info({ file: csvFile, rules: rules.length, version: done.version }, 'http allow list rules loaded from CSV');
    return { file: csvFile, rules: rules.length, version: done.version, shared: done.shared };
  });
  ctx.addAction('http-allow-list-export', async () => ({
    csv: formatAllowCsv(allowList.rules().editable),
    automatic: allowList.rules().automatic.map(ruleUrl),
  }));
  const shared = (async () => {
    await setting.start();
    started = true;
  })();
  return { loadCsv, shared };
}
