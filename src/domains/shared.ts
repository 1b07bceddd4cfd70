import { z } from 'zod';
import { domainSchema, fieldProblems, type DomainConfig } from '../config/index.js';
import { BadInput, shareSetting, type NodeContext } from '../host/index.js';
import type { DomainTable } from './table.js';

const listSchema = z.array(domainSchema);

/** A domain list as the configuration file writes it; throws one Error naming every bad field (domains[1].name: …). */
export function parseDomains(raw: unknown): DomainConfig[] {
  const parsed = listSchema.safeParse(raw);
  if (!parsed.success) throw new BadInput(fieldProblems(parsed.error, ['domains']).join('; '));
  const seen = new Map<string, number>();
  for (const [i, d] of parsed.data.entries()) {
    const key = d.name.toLowerCase().replace(/\.$/, '');
    const first = seen.get(key);
    if (first !== undefined) throw new BadInput(`domains[${i}].name: ${d.name} is already domains[${first}]`);
    seen.set(key, i);
  }
  return parsed.data;
}

/**
 * Core's MRA domains as the cluster's (docs/cluster.md, "Shared configuration"): on a shared store every core holds
 * the cluster's copy and a change on one is in force on all, each telling its edges. The operator's actions:
 * `domains-set` (add a domain or change its services), `domains-remove`, and GET /api/domains.
 */
export async function shareDomains(
  ctx: NodeContext<{ name: string; domains: readonly DomainConfig[] }>,
  table: DomainTable,
): Promise<void> {
  const setting = shareSetting<DomainConfig[]>(ctx, {
    name: 'domains',
    parse: parseDomains,
    apply: (domains) => table.replace(domains),
    local: () => ctx.cfg.domains.map((d) => ({ ...d })),
  });
  const current = (): DomainConfig[] => table.entries().map((e) => ({ ...domainSchema.parse({ name: e.name }), ...e }));
  const changed = (copy: { version: number }) => ({ version: copy.version, shared: ctx.store.shared });
  ctx.addQuery('domains', () => current());
  ctx.addAction('domains-set', async (input) => {
    const one = domainSchema.partial({
      sip_registrations: true,
      on_node: true,
      im_presence: true,
      xmpp_federation: true,
      deployment: true,
    });
    const given = one.safeParse(input);
    if (!given.success) throw new BadInput(fieldProblems(given.error).join('; '));
    // Services not named keep what the domain had (a new domain: off), so `--im-presence` alone adds one service.
    const named = Object.fromEntries(Object.entries(given.data).filter(([k]) => k in (input as object)));
    const list = current();
    const at = list.findIndex((d) => d.name.toLowerCase() === given.data.name.toLowerCase());
    // An existing domain keeps its name as written (names compare without case).
    const entry =
      at >= 0
        ? { ...list[at]!, ...named, name: list[at]!.name }
        : { ...domainSchema.parse({ name: given.data.name }), ...named };
    if (at >= 0) list[at] = entry;
    else list.push(entry);
    const copy = await setting.change(list);
    ctx.log.info({ domain: entry.name, version: copy.version }, 'domain set');
    return { domain: entry, ...changed(copy) };
  });
  ctx.addAction('domains-remove', async (input) => {
    if (typeof input.name !== 'string' || input.name === '') throw new BadInput('name: is required (a domain name)');
    const name = input.name.toLowerCase().replace(/\.$/, '');
    const list = current();
    const left = list.filter((d) => d.name.toLowerCase().replace(/\.$/, '') !== name);
    if (left.length === list.length) throw new BadInput(`name: ${input.name} is not one of the MRA domains`);
    const copy = await setting.change(left);
    ctx.log.info({ domain: input.name, version: copy.version }, 'domain removed');
    return { removed: input.name, ...changed(copy) };
  });
  await setting.start();
}
