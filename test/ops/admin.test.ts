import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAdmin } from '../../src/admin/index.js';
import { coreFixture, parseExposition } from './helpers.js';
import { waitFor } from '../support/log-capture.js';
import { request as httpsRequest } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from '../support/cli-run.js';

async function adminFor(fx: Awaited<ReturnType<typeof coreFixture>>, token?: string) {
  const admin = await startAdmin({
    address: '127.0.0.1',
    port: 0,
    token,
    log: fx.log,
    status: () => fx.node.status(),
    control: fx.node,
  });
  fx.node.ctx.onClose(() => admin.close());
  const base = `http://127.0.0.1:${admin.port}`;
  const call = async (method: string, path: string, body?: string, auth = token) => {
    const res = await fetch(base + path, { method, body, headers: auth ? { authorization: `Bearer ${auth}` } : {} });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };
  return { base, call };
}

test('maintenance mode: POST turns it on and off, status says so, planes are told, config can start in it', async (t) => {
  const fx = await coreFixture();
  t.after(() => fx.cleanup());
  const { call } = await adminFor(fx);
  const seen: boolean[] = [];
  fx.node.ctx.onMaintenance((on) => seen.push(on));
  assert.equal(fx.node.ctx.maintenance(), false);
  let r = await call('POST', '/api/maintenance', '{"on": true}');
  assert.equal(r.status, 200);
  assert.equal(fx.node.ctx.maintenance(), true);
  assert.equal(JSON.parse((await call('GET', '/api/status')).text).maintenance, true);
  r = await call('POST', '/api/maintenance', '{"on": false}');
  assert.equal(fx.node.ctx.maintenance(), false);
  assert.deepEqual(seen, [true, false]);
  for (const bad of ['{"on": "yes"}', 'not json', '[]']) {
    r = await call('POST', '/api/maintenance', bad);
    assert.equal(r.status, 400, bad);
    assert.match(JSON.parse(r.text).error, /JSON|"on": true/);
  }
  assert.equal(fx.node.ctx.maintenance(), false, 'bad requests change nothing');

  const started = await coreFixture({ config: { maintenance_mode: true } });
  t.after(() => started.cleanup());
  assert.equal(started.node.ctx.maintenance(), true);
  assert.equal(started.node.status().maintenance, true);
});

test('drain: in maintenance mode status counts the calls and chat sessions left, and says (and logs) when none are', async (t) => {
  const fx = await coreFixture();
  t.after(() => fx.cleanup());
  const { call } = await adminFor(fx);
  let calls = 2;
  let streams = 1;
  fx.node.ctx.addStatus('media', () => ({ calls, packets: 10 }));
  fx.node.ctx.addStatus('xmpp', () => ({ streams }));
  fx.node.ctx.addStatus('sip', () => ({ registrations: 5, capacity: 2500 }));
  assert.equal(fx.node.status().drain, undefined, 'no drain report outside maintenance mode');
  await call('POST', '/api/maintenance', '{"on": true}');
  let doc = JSON.parse((await call('GET', '/api/status')).text);
  assert.deepEqual(doc.drain.active, { 'media.calls': 2, 'xmpp.streams': 1 });
  assert.equal(doc.drain.drained, false);
  assert.equal(doc.drain.registrations, 5);
  assert.ok(Date.parse(doc.drain.since) <= Date.now());
  calls = 0;
  doc = JSON.parse((await call('GET', '/api/status')).text);
  assert.deepEqual(doc.drain.active, { 'xmpp.streams': 1 });
  const drainedLines = () => fx.logLines().filter((l) => /maintenance mode: drained/.test(String(l.msg)));
  assert.equal(drainedLines().length, 0, 'not drained while a chat session is open');
  streams = 0;
  // Logged by the node's own watch, with nobody reading the status.
  await waitFor('the drained log line', () => drainedLines().length === 1 || undefined, 5000, 100);
  doc = JSON.parse((await call('GET', '/api/status')).text);
  assert.deepEqual(doc.drain.active, {});
  assert.equal(doc.drain.drained, true);
  assert.equal(drainedLines().length, 1, 'logged once');
  const metrics = (await call('GET', '/metrics')).text;
  assert.match(metrics, /^mra_maintenance_drained\{role="core"\} 1$/m);
  await call('POST', '/api/maintenance', '{"on": false}');
  assert.equal(fx.node.status().drain, undefined);
});

test('actions: a registered action runs on POST, a failing one is a 500 with its reason, an unknown one a 404', async (t) => {
  const fx = await coreFixture();
  t.after(() => fx.cleanup());
  const { call } = await adminFor(fx);
  let runs = 0;
  fx.node.ctx.addAction('ping-inside', async () => ({ runs: ++runs }));
  fx.node.ctx.addAction('broken', async () => {
    throw new Error('publisher gone');
  });
  assert.throws(() => fx.node.ctx.addAction('broken', async () => 0), /registered twice/);
  let r = await call('POST', '/api/actions/ping-inside');
  assert.deepEqual(JSON.parse(r.text), { action: 'ping-inside', result: { runs: 1 } });
  r = await call('POST', '/api/actions/broken');
  assert.equal(r.status, 500);
  assert.match(r.text, /publisher gone/);
  r = await call('POST', '/api/actions/nope');
  assert.equal(r.status, 404);
  r = await call('DELETE', '/api/status');
  assert.equal(r.status, 405);
});

test('a token-protected admin API refuses data without the token but serves the (data-free) page', async (t) => {
  const fx = await coreFixture();
  t.after(() => fx.cleanup());
  const token = 'ops-test-token-0123456789';
  const { call } = await adminFor(fx, token);
  for (const [method, path] of [
    ['GET', '/api/status'],
    ['GET', '/metrics'],
    ['POST', '/api/maintenance'],
  ] as const) {
    assert.equal(
      (await call(method, path, method === 'POST' ? '{"on":true}' : undefined, 'wrong-token-0123456789xx')).status,
      401,
      path,
    );
  }
  assert.equal(fx.node.ctx.maintenance(), false);
  const page = await call('GET', '/', undefined, undefined);
  assert.equal(page.status, 200);
  assert.match(page.type, /text\/html/);
  assert.match(page.text, /Status &gt; Unified Communications/);
  assert.doesNotMatch(page.text, /core1/, 'no node data in the page itself');
  assert.equal((await call('GET', '/api/status')).status, 200);
});

test('/metrics is Prometheus text with the same figures as /api/status', async (t) => {
  const fx = await coreFixture();
  t.after(() => fx.cleanup());
  const { call } = await adminFor(fx);
  let registrations = 7;
  fx.node.ctx.addStatus('sip', () => ({ registrations, flows: { active: 3 }, transports: ['tls'], peer: 'x' }));
  fx.node.ctx.addStatus('traversal', () => ({ state: 'up', since: new Date().toISOString(), rttMs: 4, reconnects: 0 }));
  fx.node.ctx.alarm('test.example', 'warning', 'an example alarm');
  const r = await call('GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain/);
  const { samples, types } = parseExposition(r.text);
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  assert.equal(types.get('mra_sip_registrations'), 'gauge');
  assert.equal(value('mra_sip_registrations', { role: 'core' }), 7);
  assert.equal(value('mra_traversal_rtt_seconds'), 0.004, 'milliseconds in the document, seconds in the metric');
  assert.equal(types.get('mra_traversal_reconnects_total'), 'counter');
  assert.equal(value('mra_traversal_link_up'), 1);
  assert.equal(value('mra_maintenance_mode'), 0);
  assert.equal(value('mra_alarm', { id: 'test.example', severity: 'warning' }), 1);
  assert.equal(value('mra_alarms', { severity: 'warning' }), 1);
  assert.ok(
    samples.some((s) => s.name === 'process_cpu_seconds_total'),
    'process metrics under their usual names',
  );
  assert.ok(!samples.some((s) => /process_process|^mra_status$/.test(s.name)), 'no doubled prefix, no catch-all gauge');
  assert.equal(value('mra_intrusion_blocks_total'), undefined, "an edge's family is not on core");
  registrations = 8;
  await call('POST', '/api/maintenance', '{"on":true}');
  const again = parseExposition((await call('GET', '/metrics')).text).samples;
  assert.equal(again.find((s) => s.name === 'mra_sip_registrations')?.value, 8, 'each scrape reads fresh');
  assert.equal(again.find((s) => s.name === 'mra_maintenance_mode')?.value, 1);
});

test('a status section that throws is shown as its error; the rest of the page still works', async (t) => {
  const fx = await coreFixture();
  t.after(() => fx.cleanup());
  const { call } = await adminFor(fx);
  fx.node.ctx.addStatus('broken', () => {
    throw new Error('section exploded');
  });
  fx.node.ctx.addStatus('fine', () => ({ ok: 1 }));
  const doc = JSON.parse((await call('GET', '/api/status')).text);
  assert.deepEqual(doc.broken, { error: 'section exploded' });
  assert.deepEqual(doc.fine, { ok: 1 });
  assert.equal((await call('GET', '/metrics')).status, 200);
});

test('off loopback the admin API is HTTPS: refused without TLS, a client without a certificate is refused in TLS, the CLI pins the configured certificate', async (t) => {
  const fx = await coreFixture();
  t.after(() => fx.cleanup());
  const status = () => fx.node.status();
  await assert.rejects(
    startAdmin({ address: '0.0.0.0', port: 0, token: 'ops-test-token-0123456789', log: fx.log, status }),
    /off loopback it needs TLS/,
  );

  const adminCert = await fx.ca.issue({ commonName: 'admin.core.example.com', dnsNames: ['admin.core.example.com'] });
  const operator = await fx.ca.issue({ commonName: 'operator', dnsNames: ['operator.example.com'] });
  const token = 'ops-test-token-0123456789';
  const admin = await startAdmin({
    address: '0.0.0.0',
    port: 0,
    token,
    tls: { cert: adminCert.cert, key: adminCert.key, clientCa: fx.ca.cert },
    log: fx.log,
    status,
    control: fx.node,
  });
  t.after(() => admin.close());
  const ask = (opts: { cert?: string; key?: string; token?: string }) =>
    new Promise<{ status?: number; error?: string }>((resolve) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: admin.port,
          path: '/api/status',
          ca: fx.ca.cert,
          servername: 'admin.core.example.com',
          ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
          headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
        },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end();
    });
  assert.match(
    (await ask({ token })).error ?? '',
    /CERTIFICATE_REQUIRED|ECONNRESET/,
    'no client certificate: refused in the TLS handshake',
  );
  assert.equal((await ask({ cert: operator.cert, key: operator.key })).status, 401, 'a certificate, but no token');
  assert.equal((await ask({ cert: operator.cert, key: operator.key, token })).status, 200);
  await waitFor('the refusal in the log', () => fx.logLines().some((l) => l.msg === 'admin API TLS handshake failed'));
  const plain = await fetch(`http://127.0.0.1:${admin.port}/api/status`).then(
    (r) => r.status,
    (err: Error) => err.message,
  );
  assert.notEqual(plain, 200, 'plain HTTP gets nothing');

  // The CLI with the node's configuration: HTTPS, the token, the admin certificate pinned (its name is not the address).
  writeFileSync(join(fx.dir, 'admin.pem'), adminCert.cert);
  writeFileSync(join(fx.dir, 'admin.key'), adminCert.key);
  writeFileSync(join(fx.dir, 'operator.pem'), operator.cert);
  writeFileSync(join(fx.dir, 'operator.key'), operator.key);
  writeFileSync(join(fx.dir, 'token'), `${token}\n`);
  const yaml = join(fx.dir, 'core.yaml');
  writeFileSync(
    yaml,
    stringify({
      role: 'core',
      name: 'core1',
      admin: {
        address: '0.0.0.0',
        port: admin.port,
        token_file: 'token',
        tls: { cert_file: 'admin.pem', key_file: 'admin.key', client_ca_file: 'ca.pem' },
      },
      tls: { cert_file: 'core.pem', key_file: 'core.key', ca_file: 'ca.pem' },
      traversal: { peers: [{ address: '127.0.0.1' }], username: 't', password: 'p' },
    }),
  );
  const cli = async (...args: string[]) => {
    const r = await runCli(args);
    return { status: r.code, stdout: r.out, stderr: r.err };
  };
  const noCert = await cli('status', '-c', yaml);
  assert.equal(noCert.status, 2);
  assert.match(noCert.stderr, /asks for a client certificate \(admin\.tls\.client_ca_file\): give --cert and --key/);
  const ok = await cli(
    'status',
    '-c',
    yaml,
    '--cert',
    join(fx.dir, 'operator.pem'),
    '--key',
    join(fx.dir, 'operator.key'),
    '--json',
  );
  assert.equal(ok.status, 1, `the answer came (exit 1: this fixture has no traversal link): ${ok.stderr}`);
  assert.equal(JSON.parse(ok.stdout).node, 'core1');
  // Another certificate of the same CA in the configuration: the pin refuses the server's.
  const other = await fx.ca.issue({ commonName: 'other', dnsNames: ['other.example.com'] });
  writeFileSync(join(fx.dir, 'admin.pem'), other.cert);
  const pinned = await cli(
    'status',
    '-c',
    yaml,
    '--cert',
    join(fx.dir, 'operator.pem'),
    '--key',
    join(fx.dir, 'operator.key'),
  );
  assert.equal(pinned.status, 2);
  assert.match(pinned.stderr, /certificate is not the one in the configuration/);
});
