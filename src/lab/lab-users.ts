import { timingSafeEqual } from 'node:crypto';

/** The lab's end users, as call control knows them (the seeds' example user first). */
export interface LabUser {
  id: string;
  password: string;
  firstName: string;
  lastName: string;
  directoryNumber: string;
  /** The Jabber softphone (CSF) device name. */
  device: string;
}

export const LAB_USERS: readonly LabUser[] = [
  {
    id: 'mdude',
    password: 'thispasswdwillbereset',
    firstName: 'Mobile',
    lastName: 'Dude',
    directoryNumber: '+15551001',
    device: 'CSFMDUDE',
  },
  {
    id: 'jdoe',
    password: 'lab-password-2',
    firstName: 'Jane',
    lastName: 'Doe',
    directoryNumber: '+15551002',
    device: 'CSFJDOE',
  },
];

export function findUser(id: string): LabUser | undefined {
  return LAB_USERS.find((u) => u.id.toLowerCase() === id.toLowerCase());
}

/** Checks a Basic `Authorization` value against the lab users; returns the user when it matches. */
export function basicUser(authorization: string | undefined): LabUser | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  const user = colon > 0 ? findUser(text.slice(0, colon)) : undefined;
  if (!user) return undefined;
  const given = Buffer.from(text.slice(colon + 1));
  const want = Buffer.from(user.password);
  return given.length === want.length && timingSafeEqual(given, want) ? user : undefined;
}

const ESC: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' };
export const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => ESC[c]!);
