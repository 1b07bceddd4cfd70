// What the search drives: a pair under test. Its client-facing SIP over TLS, the domain its clients register in, and
// the nodes whose CPU and memory count. Ours (edge + core, ours.ts) and the reference (Kamailio + rtpengine,
// reference.ts) both sit in front of the same call control, which the load side runs.
import { createServer } from 'node:net';
import { CertificateAuthority } from '../certs/index.js';
import type { SipFace } from './calling-client.js';
import type { MeasuredNode } from './jailed-process.js';

export type PairKind = 'ours' | 'reference';

export interface PairUnderTest {
  readonly kind: PairKind;
  /** How the report names it. */
  readonly label: string;
  readonly face: SipFace;
  /** Its nodes, in the order the report lists them (edge, core; kamailio, rtpengine). */
  readonly nodes: MeasuredNode[];
  close(): Promise<void>;
}

export interface PairOptions {
  /** The call control the pair's core (or Kamailio) sends to: the load side's. */
  callControl: { address: string; port: number };
  domain: string;
  /** Cores each node is held to, and the CPUs of each (planCpus). */
  shares: [number, number];
  cpus: [number[], number[]];
  /** Media port ranges of the pair's nodes (first, last). */
  mediaPorts: Array<[number, number]>;
  /** The largest number of calls and registrations the run may ask for (the nodes' own capacity limits above it). */
  maxCalls: number;
  /** Tells cgroups of two runs (and two pairs) apart. */
  tag: string;
  /** Ours: the node's log level (warn; the run's own output says what happens). */
  logLevel?: string;
}

/** A free TCP port on `address` (closed again: the node that takes it binds it a moment later). */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, address, () => resolve());
  });
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A CA and the face's certificate: the clients verify the pair's TLS as real clients do. */
export async function faceCertificate(name: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = await CertificateAuthority.create({ commonName: `mra-edge capacity CA (${name})` });
  const leaf = await ca.issue({ commonName: name, dnsNames: [name], ipAddresses: ['127.0.0.1'] });
  return { ca: ca.cert, cert: leaf.cert, key: leaf.key };
}
