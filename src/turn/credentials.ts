// TURN credentials from a shared secret (coturn's use-auth-secret, the TURN REST API draft): what core hands a
// client, and what the edge's TURN server verifies with the secret alone. USERNAME is "<expiry>:<user>" (unix
// seconds), the password base64(HMAC-SHA1(secret, USERNAME)).
import { createHmac } from 'node:crypto';

export interface TurnCredentials {
  username: string;
  password: string;
  /** Unix seconds after which the server refuses them (401). */
  expires: number;
}

export function turnCredentials(
  secret: string,
  user: string,
  ttlS: number,
  nowS = Math.floor(Date.now() / 1000),
): TurnCredentials {
  if (!secret) throw new TypeError('a TURN secret must not be empty');
  if (!user || user.includes('\0')) throw new TypeError('a TURN user must be a non-empty string');
  if (!Number.isInteger(ttlS) || ttlS < 1)
    throw new TypeError('a TURN credential lifetime must be a whole number of seconds');
  const expires = nowS + ttlS;
  const username = `${expires}:${user}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64'), expires };
}
