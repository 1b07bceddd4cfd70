// The reference pair: Debian's Kamailio (SIP proxy, src/capacity/reference/kamailio.cfg) and rtpengine (userspace
// forwarding, --table=-1) driven by Kamailio's rtpengine module, each in its own cgroup at the same share our nodes
// get. Clients register and call through Kamailio's TLS port; Kamailio talks TCP to the same call control.
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './callgen.js';
import { CapacityError } from './errors.js';
import { JailedProcess, waitReady } from './jailed-process.js';
import { faceCertificate, freePort, type PairOptions, type PairUnderTest } from './pair.js';

export const KAMAILIO_BIN = '/usr/sbin/kamailio';
const NAME = 'kamailio.example.com';

/** Why the reference cannot run here (a package missing), or null. */
export function referenceMissing(): string | null {
  if (spawnSync(KAMAILIO_BIN, ['-v']).status !== 0)
    return 'kamailio is not installed (apt-get install kamailio kamailio-tls-modules)';
  if (spawnSync('test', ['-f', '/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so']).status !== 0)
    return 'kamailio-tls-modules is not installed';
  if (spawnSync('rtpengine', ['--version']).status !== 0)
    return 'rtpengine is not installed (apt-get install rtpengine-daemon)';
  return null;
}

/** Whether rtpengine answers an ng ping on `port`. */
async function pong(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 500);
      s.on('message', (m) => {
        clearTimeout(t);
        resolve(m.toString().includes('pong'));
      });
      s.send('ping1 d7:command4:pinge', port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const c = connect({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

export async function startReference(o: PairOptions): Promise<PairUnderTest> {
  const missing = referenceMissing();
  if (missing) throw new CapacityError(`the reference pair cannot run: ${missing}`);
  const dir = mkdtempSync(join(tmpdir(), 'mra-capacity-reference-'));
  const cert = await faceCertificate(NAME);
  writeFileSync(join(dir, 'cert.pem'), cert.cert);
  writeFileSync(join(dir, 'key.pem'), cert.key, { mode: 0o600 });
  const tlsCfg = join(dir, 'tls.cfg');
  writeFileSync(
    tlsCfg,
    [
      '[server:default]',
      'method = TLSv1.2+',
      'verify_certificate = no',
      'require_certificate = no',
      `certificate = ${join(dir, 'cert.pem')}`,
      `private_key = ${join(dir, 'key.pem')}`,
      '[client:default]',
      'method = TLSv1.2+',
      'verify_certificate = no',
      '',
    ].join('\n'),
  );
  const [tlsPort, tcpPort, ngPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const [media] = o.mediaPorts;
  const nodes: JailedProcess[] = [];
  const close = async () => {
    for (const n of nodes.reverse()) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const threads = Math.max(1, Math.ceil(o.shares[1]));
    const rtpengine = JailedProcess.start({
      name: 'rtpengine',
      jailName: `mra-capacity-${o.tag}-rtpengine`,
      share: o.shares[1],
      cpus: o.cpus[1],
      cmd: 'rtpengine',
      args: [
        '--config-file=none',
        '--foreground',
        '--table=-1',
        '--interface=127.0.0.1',
        `--listen-ng=127.0.0.1:${ngPort}`,
        `--port-min=${media![0]}`,
        `--port-max=${media![1]}`,
        `--num-threads=${threads}`,
        '--log-stderr',
        '--log-level=4',
        '--timeout=600',
        '--delete-delay=0',
      ],
    });
    nodes.push(rtpengine);
    await waitReady(rtpengine, () => pong(ngPort!), 30_000);
    // One TCP/TLS worker: Debian's 5.6.3 with OpenSSL 3 corrupts its shared memory when two TLS workers handshake at
    // once (kamailio issue #3791, fixed by tls_threads_mode in 5.7); bench:sip runs it the same way.
    const kamailio = JailedProcess.start({
      name: 'kamailio',
      jailName: `mra-capacity-${o.tag}-kamailio`,
      share: o.shares[0],
      cpus: o.cpus[0],
      cmd: KAMAILIO_BIN,
      args: [
        '-f',
        join(repoRoot, 'src/capacity/reference/kamailio.cfg'),
        '-DD',
        '-E',
        '-Y',
        dir,
        '-P',
        join(dir, 'kamailio.pid'),
        '-w',
        dir,
        '-m',
        '1024',
        '-M',
        '32',
        '-N',
        '1',
        '-n',
        '2',
        '-l',
        `tls:127.0.0.1:${tlsPort}`,
        '-l',
        `tcp:127.0.0.1:${tcpPort}`,
        '-A',
        `TLS_CONFIG="${tlsCfg}"`,
        '-A',
        `CALL_CONTROL="sip:${o.callControl.address}:${o.callControl.port};transport=tcp"`,
        '-A',
        `RTPE_SOCK="udp:127.0.0.1:${ngPort}"`,
      ],
    });
    nodes.push(kamailio);
    await waitReady(kamailio, async () => (await canConnect(tlsPort!)) && (await canConnect(tcpPort!)), 30_000);
  } catch (err) {
    await close();
    throw err;
  }
  // The report lists the SIP node first, as ours lists the edge.
  return {
    kind: 'reference',
    label: 'Kamailio + rtpengine',
    face: { host: '127.0.0.1', port: tlsPort!, ca: cert.ca, servername: NAME },
    nodes: [nodes[1]!, nodes[0]!],
    close,
  };
}
