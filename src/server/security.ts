/**
 * API keys, history encryption and signed URLs.
 *
 * - API keys are high-entropy secrets, so a single SHA-256 is an adequate one-way hash (no
 *   password stretching needed); only hashes are stored. A presented key is hashed and compared
 *   against every stored hash with crypto.timingSafeEqual, without an early exit.
 * - History encryption: AES-256-GCM, a fresh 96-bit IV per value, the row's identity as
 *   additional authenticated data (a ciphertext moved to another row fails to decrypt).
 * - Image URLs carry an HMAC-SHA256 signature with an expiry (like OpenAI's own image URLs),
 *   so an <img> tag can load them without an Authorization header.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** True when `presented` hashes to one of `hashes`; time does not depend on which one, or where they differ. */
export function matchApiKey(presented: string, hashes: readonly string[]): boolean {
  const h = Buffer.from(hashApiKey(presented), 'hex');
  let ok = false;
  for (const stored of hashes) {
    const s = Buffer.from(stored, 'hex');
    if (s.length === h.length && timingSafeEqual(s, h)) ok = true;
  }
  return ok;
}

/** Keys from `--api-key` flags and the comma/whitespace-separated AIGC_API_KEYS variable. */
export function collectApiKeys(flags: readonly string[], env: string | undefined): string[] {
  const keys = [...flags, ...(env ?? '').split(/[\s,]+/)].map((k) => k.trim()).filter((k) => k.length > 0);
  for (const k of keys) {
    if (k.length < 16) throw new ConfigError(`API keys must be at least 16 characters (got one of ${k.length}); generate one with: openssl rand -hex 32`);
  }
  return [...new Set(keys)];
}

/** Parses AIGC_HISTORY_KEY: 32 bytes as 64 hex digits or base64. */
export function parseHistoryKey(value: string | undefined): Buffer {
  if (!value) throw new ConfigError('--encrypt-history needs a 32-byte key in the AIGC_HISTORY_KEY environment variable (64 hex digits or base64); generate one with: openssl rand -hex 32');
  const v = value.trim();
  let key: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(v)) key = Buffer.from(v, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) key = Buffer.from(v, 'base64');
  if (!key || key.length !== 32) throw new ConfigError(`AIGC_HISTORY_KEY must encode exactly 32 bytes (64 hex digits or 44 base64 characters); got ${key ? key.length : 'an unreadable value of ' + v.length + ' characters'}${key ? ' bytes' : ''}`);
  return key;
}

const PREFIX = 'gcm1:';

export class HistoryCipher {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new ConfigError('history key must be 32 bytes');
  }

  /** A short fingerprint of the key, stored to detect a restart with a different key. */
  fingerprint(): string {
    return createHmac('sha256', this.key).update('aigc-history-key-check').digest('hex').slice(0, 16);
  }

  encrypt(plain: string, aad: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
  }

  decrypt(stored: string, aad: string): string {
    if (!stored.startsWith(PREFIX)) throw new Error('value is not encrypted');
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  }
}

export const isEncrypted = (v: string) => v.startsWith(PREFIX);

export class UrlSigner {
  constructor(private readonly secret: Buffer) {}

  sign(id: string, ttlSeconds = 3600, now = Date.now()): { exp: number; sig: string } {
    const exp = Math.floor(now / 1000) + ttlSeconds;
    return { exp, sig: this.mac(id, exp) };
  }

  verify(id: string, exp: number, sig: string, now = Date.now()): boolean {
    if (!Number.isInteger(exp) || exp < Math.floor(now / 1000)) return false;
    const want = Buffer.from(this.mac(id, exp), 'utf8');
    const got = Buffer.from(sig, 'utf8');
    return want.length === got.length && timingSafeEqual(want, got);
  }

  private mac(id: string, exp: number): string {
    return createHmac('sha256', this.secret).update(`${id}.${exp}`).digest('base64url');
  }
}
