import { BadInput } from '../host/index.js';
import { checkMethods, parseRuleUrl, ruleUrl, type AllowRule, type MatchType } from './allow-list.js';

/**
 * The editable part of the HTTP allow list as the cluster shares it (docs/cluster.md, "Shared configuration"), in the
 * configuration file's words (http.allow_list): the default method set and the editable rules, each with its URL.
 */
export interface AllowListDoc {
  default_methods: string[];
  rules: Array<{
    url: string;
    methods: string[] | 'default';
    match: MatchType;
    deployment: string;
    description: string;
  }>;
}

export function toDoc(defaults: readonly string[], rules: readonly AllowRule[]): AllowListDoc {
  return {
    default_methods: [...defaults],
    rules: rules.map((r) => ({
      url: ruleUrl(r),
      methods: r.methods === 'default' ? 'default' : [...r.methods],
      match: r.match,
      deployment: r.deployment,
      description: r.description,
    })),
  };
}

/** The rules of a document, ready for AllowList.replaceEditable. */
export function docRules(doc: AllowListDoc): AllowRule[] {
  return doc.rules.map((r) => ({ ...parseRuleUrl(r.url), ...r, automatic: false }));
}

/** Checks a document from the store or an operator; throws one Error naming the field (rules[2].url: …). */
export function parseAllowListDoc(raw: unknown): AllowListDoc {
  const o = raw as Partial<Record<keyof AllowListDoc, unknown>> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new BadInput('http.allow_list: must be an object with default_methods and rules');
  const field = (name: string, check: () => unknown) => {
    try {
      return check();
    } catch (err) {
      throw new BadInput(`http.allow_list.${name}: ${(err as Error).message}`);
    }
  };
  const methods = (v: unknown): string[] => {
    if (!Array.isArray(v) || v.some((m) => typeof m !== 'string')) throw new Error('must be a list of HTTP methods');
    return checkMethods(v as string[]);
  };
  const default_methods = field('default_methods', () => methods(o.default_methods)) as string[];
  if (!Array.isArray(o.rules)) throw new BadInput('http.allow_list.rules: must be a list');
  const seen = new Map<string, number>();
  const rules = o.rules.map((raw: unknown, i) => {
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const at = `rules[${i}]`;
    const url = field(`${at}.url`, () => {
      if (typeof r.url !== 'string') throw new Error('is required (an http(s)://host[:port][/path] URL)');
      return ruleUrl(parseRuleUrl(r.url));
    }) as string;
    const twin = seen.get(url);
    if (twin !== undefined) throw new BadInput(`http.allow_list.${at}.url: ${url} is already rules[${twin}]`);
    seen.set(url, i);
    const text = (name: string, fallback: string) =>
      field(`${at}.${name}`, () => {
        const v = r[name] ?? fallback;
        if (typeof v !== 'string') throw new Error('must be a string');
        return v;
      }) as string;
    const match = text('match', 'prefix');
    if (match !== 'exact' && match !== 'prefix')
      throw new BadInput(`http.allow_list.${at}.match: must be one of "exact", "prefix"`);
    const deployment = text('deployment', 'default');
    if (deployment === '') throw new BadInput(`http.allow_list.${at}.deployment: must not be empty`);
    return {
      url,
      methods: (r.methods === undefined || r.methods === 'default'
        ? 'default'
        : field(`${at}.methods`, () => methods(r.methods))) as string[] | 'default',
      match: match as MatchType,
      deployment,
      description: text('description', ''),
    };
  });
  return { default_methods, rules };
}
