#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError } from '../config/index.js';
import { EXIT_CONFIG, loadOrExit } from './load-config.js';
import { addAdminCommands } from './admin-commands.js';
import { addConfigCommands } from './config-commands.js';
import { createLogger } from '../log/index.js';
import { startCore, startEdge, startRelay, VERSION, type RunningNode } from '../node/index.js';
import { hashPassword } from '../traversal/index.js';
import { writeCsr, type CsrCommandOptions } from './csr.js';

const load = loadOrExit;
type Role = 'edge' | 'core' | 'relay';

/** SIGTERM and SIGINT drain the node and exit 0; a second signal exits at once. */
function runUntilSignalled(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`${sig}: draining\n`);
    stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function runNode(role: Role, file: string): Promise<void> {
  const cfg = load(file, role);
  const log = createLogger({ level: cfg.log.level, node: cfg.name });
  let node: RunningNode;
  try {
    node =
      cfg.role === 'edge'
        ? await startEdge(cfg, log)
        : cfg.role === 'core'
          ? await startCore(cfg, log)
          : await startRelay(cfg, log);
  } catch (err) {
    log.fatal({ err: (err as Error).message }, `${role} failed to start`);
    process.exit(1);
  }
  log.info({ ports: node.ports }, `${role} ${cfg.name} running`);
  runUntilSignalled(() => node.close());
}

const program = new Command('mra-edge')
  .description('Mobile and Remote Access edge: an edge node (DMZ) and a core node (inside) joined by a traversal link')
  .version(`mra-edge ${VERSION} (Node.js ${process.versions.node})`, '-V, --version', 'print the release and exit')
  .showHelpAfterError();
program.configureOutput({ outputError: (s, write) => write(s) });
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_CONFIG));

program
  .command('edge')
  .description('run an edge node (Expressway-E role)')
  .requiredOption('-c, --config <file>', 'edge configuration (YAML)')
  .action((o: { config: string }) => runNode('edge', o.config));

program
  .command('core')
  .description('run a core node (Expressway-C role)')
  .requiredOption('-c, --config <file>', 'core configuration (YAML)')
  .action((o: { config: string }) => runNode('core', o.config));

program
  .command('relay')
  .description("run a media relay driven over rtpengine's ng protocol by Kamailio or OpenSIPS (docs/relay.md)")
  .requiredOption('-c, --config <file>', 'relay configuration (YAML)')
  .action((o: { config: string }) => runNode('relay', o.config));

program
  .command('lab')
  .description('run core, edge and simulated inside servers together on loopback (the default of npm start)')
  .option('-d, --dir <dir>', 'where the lab keeps its CA, certificates and password', '.lab')
  .option('--ephemeral-ports', 'let the OS choose every port (several labs side by side)')
  .option('--log-level <level>', 'log level', 'info')
  .option(
    '--clients <n>',
    'simulated remote clients that sign in, register and stay online over XMPP (0 for none)',
    '3',
  )
  .action(async (o: { dir: string; ephemeralPorts?: boolean; logLevel: string; clients: string }) => {
    const clients = Number(o.clients);
    if (!Number.isInteger(clients) || clients < 0 || clients > 100) {
      process.stderr.write(`lab: --clients must be a whole number from 0 to 100; got "${o.clients}"\n`);
      process.exit(EXIT_CONFIG);
    }
    // Loaded only here: the lab's simulated servers are no part of a node (nothing else of the product imports src/lab).
    const { startLab } = await import('../lab/index.js');
    const lab = await startLab({
      dir: o.dir,
      ports: o.ephemeralPorts ? 'ephemeral' : 'standard',
      logLevel: o.logLevel,
      clients,
    });
    process.stderr.write(
      `lab running: edge ${JSON.stringify(lab.edge.ports)}, core ${JSON.stringify(lab.core.ports)}, inside ${JSON.stringify(lab.inside.ports)}\n` +
        `  mra-edge status --url http://127.0.0.1:${lab.core.ports.admin}   (core; edge: --url http://127.0.0.1:${lab.edge.ports.admin})\n` +
        `  status pages               http://127.0.0.1:${lab.core.ports.admin}/ (core), http://127.0.0.1:${lab.edge.ports.admin}/ (edge)\n` +
        `  simulated clients          ${clients} signing in, registering and online over XMPP through the edge\n` +
        lab.calls
          .map(
            (c) =>
              `  ${`${c.kind} call`.padEnd(27)}${c.from} calls ${c.to} (DTMF, hold, resume): the status pages' Calls tab lists it as ${c.kind}\n`,
          )
          .join(''),
    );
    runUntilSignalled(() => lab.close());
  });

program
  .command('check-config')
  .description('validate a configuration file; exit 2 with every problem named when it is wrong')
  .argument('<file>')
  .action((file: string) => {
    const cfg = load(file);
    process.stdout.write(`${file}: ok (${cfg.role} ${cfg.name})\n`);
  });

addAdminCommands(program);
addConfigCommands(program);

program
  .command('capacity')
  .description(
    'search the capacity of a pair held to CPU shares on this machine and write a report with plots (docs/capacity.md; root, cgroups)',
  )
  .option(
    '--pair <pair>',
    'ours (the built-in lab pair: edge + core), reference (Kamailio + rtpengine) or both',
    'ours',
  )
  .option('--shares <list>', 'cores each node is held to, one search each', '0.25,0.5,1')
  .option(
    '--size <size>',
    'compare with this Expressway size only: small, medium, large or ce1200 (measured at its vCPU when they fit)',
  )
  .option('--start <calls>', 'first step of concurrent calls', '50')
  .option('--max-calls <calls>', 'largest step', '4000')
  .option('--refine <n>', 'bisection steps after the first failure', '2')
  .option('--cps <n>', 'calls set up per second in each step', '100')
  .option('--window <s>', 'seconds measured at each step', '10')
  .option('--settle <s>', 'seconds between the last call up and the window', '2')
  .option('--rates <list>', 'set-up rates to try at the largest share (calls/s), or none', '25,50,100,200')
  .option('--video', 'also search with video calls (a second m= line, 1.5 Mbit/s) at the largest share')
  .option(
    '--max-p99 <ms>',
    "a step fails when its p99 latency through the pair reaches this (the issue's criterion: 10)",
    '10',
  )
  .option('--budget <minutes>', 'start no new step after this long')
  .option(
    '--media-ports <ranges>',
    'UDP ranges of the nodes: edge=A-B,core=C-D,rtpengine=E-F (default edge 36000-43999, core 44000-59999, rtpengine 10000-25999)',
  )
  .option('-o, --out <dir>', 'where the report (capacity.md) and its SVG plots go', 'capacity-report')
  .action(async (o: Record<string, string | boolean | undefined>) => {
    // Loaded only here: the capacity tool drives the lab and its generator, which no node carries.
    const { capacityCommand, CapacityError } = await import('../capacity/index.js');
    try {
      await capacityCommand(o);
    } catch (err) {
      if (!(err instanceof CapacityError)) throw err;
      process.stderr.write(`capacity: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
  });

const many = (v: string, prev: string[]) => [...prev, v];
program
  .command('csr')
  .description("generate a node's private key and a CSR with the SANs its role needs (docs/certificates.md)")
  .requiredOption('--role <role>', 'edge or core')
  .requiredOption('--fqdn <name>', "this peer's FQDN (first SAN and default CN)")
  .option('--alias <name>', 'edge: cluster FQDN or another alias (repeatable)', many, [])
  .option('--registration-domain <domain>', 'edge: a Unified CM registration domain (repeatable)', many, [])
  .option('--collab-edge', 'edge: name registration domains as collab-edge.<domain>')
  .option('--xmpp-domain <domain>', 'edge: an XMPP federation domain (repeatable)', many, [])
  .option('--domains-from <core.yaml>', "edge: take registration and federation domains from core's configuration")
  .option('--chat-alias <name>', 'IM&P chat node alias (repeatable)', many, [])
  .option('--cluster-name <name>', "core: the core cluster's name (the edge's TLS verify subject name)")
  .option('--phone-profile <fqdn>', 'core: a phone security profile name in FQDN form (repeatable)', many, [])
  .option('--ip <address>', 'an IP address SAN (repeatable; an FQDN is better)', many, [])
  .option('--key-type <type>', 'ecdsa-p256, rsa-2048 or rsa-4096', 'ecdsa-p256')
  .option('--hash <alg>', 'SHA-256, SHA-384 or SHA-512', 'SHA-256')
  .option('-o, --out-dir <dir>', 'where to write <fqdn>.key and <fqdn>.csr', '.')
  .option('--force', 'replace an existing key')
  .action(async (o: CsrCommandOptions) => {
    try {
      const r = await writeCsr(o);
      process.stdout.write(`${r.csrFile}\n${r.keyFile} (keep it on this node only)\nSANs: ${r.sans.join(', ')}\n`);
    } catch (err) {
      if (!(err instanceof TypeError || err instanceof ConfigError)) throw err;
      process.stderr.write(`csr: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
  });

program
  .command('hash-password')
  .description(
    "print the scrypt hash of a traversal password for the edge's accounts (reads stdin without an argument)",
  )
  .argument('[password]')
  .action(async (password?: string) => {
    let pw = password;
    if (pw === undefined) {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      pw = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '');
    }
    if (!pw) {
      process.stderr.write('empty password\n');
      process.exit(EXIT_CONFIG);
    }
    process.stdout.write(`${await hashPassword(pw)}\n`);
  });

await program.parseAsync(process.argv);
