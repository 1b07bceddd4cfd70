// How each operator command runs against a node's admin API: which node it asks, its options, and its exit codes
// (0 done, 1 the node said no, 2 no node answered or the usage or configuration is wrong).
import type { Command } from 'commander';
import {
  AdminUnreachable,
  DEFAULT_ADMIN_URL,
  adminRequest,
  refusal,
  targetFromConfig,
  targetFromUrl,
  type AdminTarget,
  type TargetOptions,
} from './admin-client.js';
import { EXIT_CONFIG, loadOrExit } from './load-config.js';

export interface Common extends TargetOptions {
  json?: boolean;
}

function target(o: Common): AdminTarget {
  if (o.config) return targetFromConfig(loadOrExit(o.config), o.config, o);
  if (o.url) return targetFromUrl(o.url, '--url', o);
  const env = process.env.MRA_ADMIN_URL;
  if (env) return targetFromUrl(env, 'MRA_ADMIN_URL', o);
  // Never a silent guess: say which node this asks, and how to ask another.
  process.stderr.write(
    `mra-edge: no -c <config> or --url given: asking ${DEFAULT_ADMIN_URL} (the default admin.port on this host)\n`,
  );
  return targetFromUrl(DEFAULT_ADMIN_URL, 'the default, as no -c or --url was given', o);
}

export const adminOptions = (c: Command) =>
  c
    .option('-c, --config <file>', "the node's configuration: its admin address, port, TLS and token")
    .option('-u, --url <url>', 'admin API base URL instead (token from MRA_ADMIN_TOKEN)')
    .option('--ca <file>', 'CA bundle to trust for an HTTPS admin API')
    .option('--cert <file>', 'client certificate, when the admin API asks for one (admin.tls.client_ca_file)')
    .option('--key <file>', 'its private key')
    .option('--json', "print the API's JSON answer");

/** Runs one command: unreachable or refused is a clear line on stderr and its exit code. */
export function run<O extends Common>(
  body: (t: AdminTarget, o: O, ...args: Array<string | undefined>) => Promise<number>,
) {
  return async (...args: unknown[]) => {
    const cmd = args.at(-1) as Command;
    const o = cmd.opts() as O;
    const positional = args.slice(0, -2).map((v) => (v === undefined ? undefined : String(v)));
    try {
      process.exitCode = await body(target(o), o, ...positional);
    } catch (err) {
      if (!(err instanceof AdminUnreachable || err instanceof UsageError)) throw err;
      process.stderr.write(`mra-edge ${cmd.name()}: ${err.message}\n`);
      process.exitCode = EXIT_CONFIG;
    }
  };
}

export class UsageError extends Error {}

export const print = (v: unknown) =>
  process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);

export async function get(t: AdminTarget, path: string): Promise<unknown> {
  const a = await adminRequest(t, 'GET', path);
  if (a.status !== 200) throw new Refused(refusal(a));
  return a.body;
}

export async function post(
  t: AdminTarget,
  path: string,
  body: unknown = {},
): Promise<{ ok: boolean; body: unknown; text: string }> {
  const a = await adminRequest(t, 'POST', path, body);
  return { ok: a.status === 200, body: a.body, text: refusal(a) };
}

/** The node answered, and said no: exit 1 with its reason. */
export class Refused extends Error {}

export function refusedOr(fn: () => Promise<number>): Promise<number> {
  return fn().catch((err: unknown) => {
    if (!(err instanceof Refused)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  });
}

export type RunCommand = typeof run;
