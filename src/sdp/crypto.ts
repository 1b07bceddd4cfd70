// a=crypto (RFC 4568, SDES): `a=crypto:<tag> <suite> inline:<key||salt base64>[|<lifetime>][|<MKI>:<length>] [params]`.
import { SdpSyntaxError } from './sdp.js';

export interface SdpCrypto {
  tag: number;
  suite: string;
  /** Master key || master salt, decoded. */
  keySalt: Buffer;
  /** An MKI, more than one key, or a session parameter (UNENCRYPTED_SRTP, KDR...): a relay keyed per leg cannot honour it. */
  unsupportedParams: boolean;
}

const CRYPTO = /^(\d{1,9}) ([A-Za-z0-9_]+) (inline:[^ ]+)((?: \S+)*)$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** One a=crypto value; `where` names the line in the error. */
export function parseCrypto(value: string, where: string): SdpCrypto {
  const m = CRYPTO.exec(value.trim());
  if (!m) throw new SdpSyntaxError(`${where}: malformed a=crypto (<tag> <suite> inline:<key>)`);
  const keys = m[3]!.split(';');
  const [key, ...rest] = keys[0]!.slice('inline:'.length).split('|');
  if (!key || !BASE64.test(key)) throw new SdpSyntaxError(`${where}: a=crypto key is not base64`);
  const mki = rest.some((p) => p.includes(':'));
  return {
    tag: Number(m[1]),
    suite: m[2]!,
    keySalt: Buffer.from(key, 'base64'),
    unsupportedParams: mki || keys.length > 1 || m[4]!.trim() !== '',
  };
}

export function formatCrypto(tag: number, suite: string, keySalt: Buffer): string {
  return `${tag} ${suite} inline:${keySalt.toString('base64')}`;
}
