import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CLI } from '../support/node-files.js';

const ROOT = process.env.MRA_ROOT ?? process.cwd();
const DOCKER = join(ROOT, 'examples/docker');
const SYSTEMD = join(ROOT, 'examples/systemd');

interface Instruction {
  line: number;
  op: string;
  args: string;
}

/** A Dockerfile as instructions (continuation lines joined, comments and the parser directive left out). */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    if (!pending && /^\s*(#|$)/.test(raw)) return;
    if (!pending) start = i + 1;
    pending += raw.replace(/\\$/, ' ');
    if (raw.endsWith('\\')) return;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(pending)!;
    assert.ok(m, `line ${start}: not an instruction: ${pending}`);
    out.push({ line: start, op: m[1]!.toUpperCase(), args: m[2]!.trim().replace(/\s+/g, ' ') });
    pending = '';
  });
  assert.equal(pending, '', 'no dangling continuation');
  return out;
}

/** Dockerfile.dockerignore's verdict on a path: excluded unless a later ! pattern lets it in (the forms used there). */
function ignored(rules: string[], path: string): boolean {
  let out = false;
  for (const r of rules) {
    const negate = r.startsWith('!');
    const p = negate ? r.slice(1) : r;
    if (p === '*' || path === p || path.startsWith(`${p}/`)) out = !negate;
  }
  return out;
}

test('the Dockerfile: two stages on Node 20, a non-root runtime with an exec-form entrypoint, and only files that exist and the context lets in', () => {
  const text = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');
  const ins = instructions(text);
  const ops = ins.map((i) => i.op);
  const known = new Set([
    'FROM',
    'RUN',
    'COPY',
    'WORKDIR',
    'ENV',
    'EXPOSE',
    'USER',
    'HEALTHCHECK',
    'STOPSIGNAL',
    'ENTRYPOINT',
    'CMD',
    'ARG',
    'LABEL',
  ]);
  for (const i of ins) assert.ok(known.has(i.op), `line ${i.line}: ${i.op}`);
  const froms = ins.filter((i) => i.op === 'FROM');
  assert.equal(froms.length, 2, 'a build stage and a runtime stage');
  for (const f of froms)
    assert.match(
      f.args,
      /^node:20-bookworm-slim( AS \w+)?$/,
      `the engines' Node (>= 20.18) on Debian bookworm: ${f.args}`,
    );
  const stages = froms.map((f) => / AS (\w+)$/.exec(f.args)?.[1]).filter(Boolean);
  const runtime = ins.slice(ins.indexOf(froms[1]!));

  for (const c of ins.filter((i) => i.op === 'COPY')) {
    const from = /--from=(\S+)/.exec(c.args)?.[1];
    if (from) assert.ok(stages.includes(from), `line ${c.line}: --from=${from} names a stage`);
    else {
      const sources = c.args.split(' ').slice(0, -1);
      const rules = readFileSync(join(DOCKER, 'Dockerfile.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      for (const s of sources) {
        assert.ok(existsSync(join(ROOT, s)), `line ${c.line}: ${s} exists in the repository`);
        assert.ok(!ignored(rules, s), `line ${c.line}: ${s} is not excluded by Dockerfile.dockerignore`);
      }
    }
  }
  assert.ok(!ops.includes('ADD'), 'COPY only: nothing fetched at build time by ADD');
  for (const r of ins.filter((i) => i.op === 'RUN' && /apt-get install/.test(i.args))) {
    assert.match(
      r.args,
      /apt-get update && apt-get install -y --no-install-recommends /,
      `line ${r.line}: update and install in one layer, no recommends`,
    );
    assert.match(r.args, /rm -rf \/var\/lib\/apt\/lists\/\*$/, `line ${r.line}: the package lists are not kept`);
  }
  assert.ok(
    ins.some((i) => i.op === 'RUN' && /^npm ci\b/.test(i.args)),
    'npm ci from the lock file, not npm install',
  );
  assert.ok(
    ins.some((i) => i.op === 'RUN' && /node scripts\/build-native\.mjs/.test(i.args)),
    'the native addon (and libsrtp) built as the setup builds them',
  );
  assert.ok(
    ins.some((i) => i.op === 'RUN' && /npm prune --omit=dev/.test(i.args)),
    'no dev dependencies in the image',
  );
  assert.deepEqual(
    runtime.filter((i) => i.op === 'USER').map((i) => i.args),
    ['node'],
    'the runtime runs as a user, not root',
  );
  const entry = runtime.find((i) => i.op === 'ENTRYPOINT')!;
  assert.deepEqual(
    JSON.parse(entry.args),
    ['node', '/opt/mra-edge/dist/src/cli/main.js'],
    'exec form: SIGTERM reaches node, which drains',
  );
  assert.ok(runtime.some((i) => i.op === 'HEALTHCHECK' && /\/healthz/.test(i.args)));
  const exposed = runtime.find((i) => i.op === 'EXPOSE')!.args.split(' ');
  for (const p of ['5061/tcp', '8443/tcp', '5222/tcp', '7001/tcp', '2222/tcp', '7400/tcp', '36000-59999/udp'])
    assert.ok(exposed.includes(p), `EXPOSE ${p}`);
  assert.match(text, /--network host/, 'the header says to run it with host networking');
});

test('compose runs each role with host networking and a read-only configuration; the roles it names are CLI commands', () => {
  const compose = parse(readFileSync(join(DOCKER, 'compose.yaml'), 'utf8')) as {
    services: Record<string, { network_mode: string; command: string[]; volumes: string[] }>;
  };
  for (const [name, s] of Object.entries(compose.services)) {
    assert.equal(s.network_mode, 'host', `${name}: media needs the host's own addresses and 24,000 UDP ports`);
    assert.ok(
      s.volumes.every((v) => v.endsWith(':ro')),
      `${name}: configuration mounted read-only`,
    );
    assert.ok(
      existsSync(join(ROOT, 'examples', s.command.at(-1)!.replace('/etc/mra-edge/', ''))),
      `${name}: ${s.command.at(-1)} is an example file`,
    );
    const help = spawnSync(process.execPath, [CLI, s.command[0]!, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, `${name}: mra-edge ${s.command[0]} exists`);
  }
});

test('systemd units: systemd-analyze finds nothing wrong (and does flag a broken unit); edge, core and relay run their commands', (t) => {
  const units = ['mra-edge.service', 'mra-core.service', 'mra-relay.service'].map((u) => join(SYSTEMD, u));
  if (!existsSync('/usr/bin/systemd-analyze')) return t.skip('systemd-analyze is not installed');
  const verify = (files: string[]) =>
    spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { encoding: 'utf8' });
  const good = verify(units);
  assert.deepEqual([good.status, good.stderr.trim()], [0, ''], 'systemd-analyze verify');
  const dir = mkdtempSync(join(tmpdir(), 'mra-units-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const broken = join(dir, 'broken.service');
  writeFileSync(broken, readFileSync(units[0]!, 'utf8').replace('KillSignal=', 'KilSignal='));
  assert.match(verify([broken]).stderr, /Unknown key 'KilSignal'/, 'the check can fail');

  for (const role of ['edge', 'core', 'relay']) {
    const unit = readFileSync(join(SYSTEMD, `mra-${role}.service`), 'utf8');
    assert.match(
      unit,
      new RegExp(
        `^ExecStart=/usr/bin/env node /opt/mra-edge/dist/src/cli/main\\.js ${role} -c /etc/mra-edge/${role}\\.yaml$`,
        'm',
      ),
    );
    assert.match(unit, /^ExecStartPre=.* check-config /m);
    assert.match(unit, /^RestartPreventExitStatus=2$/m, 'a configuration error is not restarted');
    assert.match(unit, /^User=mra$/m);
    assert.equal(spawnSync(process.execPath, [CLI, role, '--help']).status, 0, `mra-edge ${role} exists`);
  }
  // The relay role's command reads its configuration like the others: a missing file is a configuration error (2).
  const r = spawnSync(process.execPath, [CLI, 'relay', '-c', '/etc/mra-edge/relay.yaml'], { encoding: 'utf8' });
  assert.equal(r.status, 2, 'a configuration error: exit 2, which the unit does not restart');
  assert.match(r.stderr, /relay\.yaml.*cannot read the file/);
});

test('the image builds and answers --version where a container runtime runs (none on this machine: skipped, and said)', (t) => {
  const info = spawnSync('docker', ['info'], { encoding: 'utf8' });
  if (info.error || info.status !== 0)
    return t.skip(
      `no container runtime: ${(info.error?.message ?? info.stderr.trim().split('\n').pop()) || 'docker info failed'}`,
    );
  const build = spawnSync('docker', ['build', '-f', join(DOCKER, 'Dockerfile'), '-t', 'mra-edge:test', ROOT], {
    encoding: 'utf8',
    timeout: 20 * 60_000,
  });
  assert.equal(build.status, 0, build.stderr.slice(-2000));
  const run = spawnSync('docker', ['run', '--rm', 'mra-edge:test', '--version'], { encoding: 'utf8' });
  assert.match(run.stdout, /^mra-edge \d+\.\d+\.\d+/);
});
