// Expressway's sizes and Cisco's figures for them, and the model that turns what a run measured (CPU per call per
// node at a share this machine can give) into figures for sizes it cannot (a Large node's 8 vCPU on 2 cores).
// Sources: the seeds' X8 scalability table (shared/digest/seed_digest_002_004.md §3.1, §3.3) and the X14 admin
// guide's capacity table (shared/digest/anchors.md §0.1).
import { CapacityError } from './errors.js';

export interface ExpresswaySize {
  key: SizeKey;
  label: string;
  vcpu: number;
  ghz: number | null;
  /** Said when the vCPU count is not Cisco's own figure. */
  vcpuNote?: string;
  /** Per node: X8 (the seeds) and current releases (X14). */
  cisco: {
    audio: number;
    video: number;
    registrations: number;
    x14: { audio: number; video: number; registrations: number };
  };
}

export type SizeKey = 'small' | 'medium' | 'large' | 'ce1200';

export const EXPRESSWAY_SIZES: Record<SizeKey, ExpresswaySize> = {
  small: {
    key: 'small',
    label: 'Small VM',
    vcpu: 2,
    ghz: 1.8,
    cisco: { audio: 200, video: 100, registrations: 2500, x14: { audio: 40, video: 20, registrations: 200 } },
  },
  medium: {
    key: 'medium',
    label: 'Medium VM',
    vcpu: 2,
    ghz: 2.4,
    cisco: { audio: 200, video: 100, registrations: 2500, x14: { audio: 200, video: 100, registrations: 3000 } },
  },
  large: {
    key: 'large',
    label: 'Large VM',
    vcpu: 8,
    ghz: 3.2,
    cisco: { audio: 1000, video: 500, registrations: 2500, x14: { audio: 1000, video: 500, registrations: 3500 } },
  },
  ce1200: {
    key: 'ce1200',
    label: 'CE1200 appliance',
    vcpu: 8,
    ghz: null,
    vcpuNote: "its cores are not in the seeds: taken as the Large VM's 8, whose call figures it shares",
    cisco: { audio: 1000, video: 500, registrations: 2500, x14: { audio: 1000, video: 500, registrations: 7000 } },
  },
};

/** The size named, or a clear error listing the sizes there are. */
export function sizeNamed(name: string): ExpresswaySize {
  const s = EXPRESSWAY_SIZES[name.toLowerCase() as SizeKey];
  if (!s)
    throw new CapacityError(`unknown Expressway size "${name}": one of ${Object.keys(EXPRESSWAY_SIZES).join(', ')}`);
  return s;
}

/** What the model needs from one pair's run at one share. */
export interface MeasuredCapacity {
  share: number;
  /** The largest step that passed. */
  calls: number;
  /** Cores per call of each node at that step (window CPU ÷ calls). */
  coresPerCall: number[];
  video: boolean;
  /** A step above the capacity failed: the capacity is the pair's limit at that share, not the search's ceiling. */
  bounded: boolean;
}

export interface SizeRow {
  size: ExpresswaySize;
  audio: number;
  video: number;
  registrations: number;
  how: 'measured' | 'derived';
}

/** Packets a second one call sends each way through a node: G.711 at 20 ms, plus video at 1.5 Mbit/s in 1,200 bytes. */
export const AUDIO_PPS = 50;
export const VIDEO_PPS = 1_500_000 / 8 / 1200;

/**
 * The model: a node of a size has `vcpu` cores of this machine's; a call costs each node what it cost at the run's
 * capacity step, the same for every call (linear: the run's steps show where it is not); a node is usable to the
 * fraction of its share the run reached at capacity (`utilisation`: the busiest node's cores at capacity ÷ its
 * share, the mean over the shares measured). The pair carries what its busier node carries:
 * calls = floor(vcpu × utilisation ÷ max(cores per call)). A video call costs an audio call's CPU scaled by its
 * packets (50 + 156 a second each way, against 50) when no video run was measured.
 */
export function deriveCalls(
  measured: MeasuredCapacity[],
  vcpu: number,
): { audio: number; video: number; utilisation: number; coresPerCall: number } {
  const audio = measured.filter((m) => !m.video && m.calls > 0);
  // Only a share whose search found the limit tells how much of a node is usable; without one nothing is derived.
  const bounded = audio.filter((m) => m.bounded);
  if (!audio.length || !bounded.length)
    return {
      audio: NaN,
      video: NaN,
      utilisation: NaN,
      coresPerCall: audio.length ? Math.max(...audio.reduce((a, b) => (b.share > a.share ? b : a)).coresPerCall) : NaN,
    };
  // The cost at the largest share measured: the steps closest to a whole node.
  const base = audio.reduce((a, b) => (b.share > a.share ? b : a));
  const perCall = Math.max(...base.coresPerCall);
  const utilisation = Math.min(
    1,
    bounded.reduce((a, m) => a + (m.calls * Math.max(...m.coresPerCall)) / m.share, 0) / bounded.length,
  );
  const videoRun = measured
    .filter((m) => m.video && m.calls > 0)
    .reduce<MeasuredCapacity | undefined>((a, b) => (!a || b.share > a.share ? b : a), undefined);
  const videoPerCall = videoRun ? Math.max(...videoRun.coresPerCall) : (perCall * (AUDIO_PPS + VIDEO_PPS)) / AUDIO_PPS;
  return {
    audio: Math.floor((vcpu * utilisation) / perCall),
    video: Math.floor((vcpu * utilisation) / videoPerCall),
    utilisation,
    coresPerCall: perCall,
  };
}

/**
 * Registrations a size holds by this run's measured cost: CPU for a refresh every `refreshS` seconds (Jabber refreshes
 * a little before its 120 s expiry) within the same utilisation, and memory within half the size's reserved RAM
 * (small 4 GB, medium 6 GB, large and CE1200 8 GB); the lower of the two.
 */
export function deriveRegistrations(
  cpuMsPerRegistration: number,
  memoryKbPerRegistration: number,
  size: ExpresswaySize,
  utilisation: number,
  refreshS = 115,
): number {
  const ramGb = size.key === 'small' ? 4 : size.key === 'medium' ? 6 : 8;
  const byCpu =
    cpuMsPerRegistration > 0 ? (size.vcpu * utilisation * refreshS * 1000) / cpuMsPerRegistration : Infinity;
  const byMemory = memoryKbPerRegistration > 0 ? (ramGb * 1024 * 1024 * 0.5) / memoryKbPerRegistration : Infinity;
  const n = Math.min(byCpu, byMemory);
  return Number.isFinite(n) ? Math.floor(n) : NaN;
}
