// API token secrets. The store keeps only the SHA-256 of a token: a leaked database does not
// leak working tokens, and lookup is one indexed equality on the hash. A plain hash (no salt,
// no slow KDF) is enough because the secret is 32 random bytes, not a guessable password.
import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'tmk_';

/** A new token secret: `tmk_` + 32 random bytes in base64url. Show it to the user once. */
export function newTokenSecret(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** The hex SHA-256 of a token secret: what the store keeps and looks up. */
export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
