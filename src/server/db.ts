/**
 * The server's embedded SQLite database (better-sqlite3, WAL mode) in the data directory.
 * Schema changes are numbered migrations recorded in the `migrations` table, applied in one
 * transaction each at start; nothing is ever dropped on restart.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../errors.js';
import { HistoryCipher, isEncrypted } from './security.js';

type DB = Database.Database;

const MIGRATIONS: { name: string; sql: string }[] = [
  {
    name: 'initial schema',
    sql: `
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, source TEXT NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER);
      CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL, model TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL
      );
      CREATE INDEX messages_by_conversation ON messages(conversation_id, seq);
      CREATE TABLE images (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, prompt TEXT NOT NULL, seed INTEGER NOT NULL, label TEXT,
        width INTEGER NOT NULL, height INTEGER NOT NULL, params TEXT NOT NULL DEFAULT '{}',
        job_id TEXT, created_at INTEGER NOT NULL
      );
      CREATE INDEX images_by_time ON images(created_at);
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL,
        progress TEXT NOT NULL DEFAULT '{}', error TEXT, model_dir TEXT,
        created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER
      );
      CREATE TABLE job_events (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
        step INTEGER NOT NULL, losses TEXT NOT NULL, sample_image_id TEXT, created_at INTEGER NOT NULL,
        PRIMARY KEY (job_id, seq)
      );
    `,
  },
];

export interface ConversationRow { id: string; title: string; model: string; created_at: number; updated_at: number }
export interface MessageRow { id: string; conversation_id: string; seq: number; role: string; content: string; meta: string; created_at: number }
export interface ImageRow { id: string; model: string; prompt: string; seed: number; label: string | null; width: number; height: number; params: string; job_id: string | null; created_at: number }
export interface JobRow { id: string; kind: string; status: string; params: string; progress: string; error: string | null; model_dir: string | null; created_at: number; started_at: number | null; finished_at: number | null }

export interface Conversation { id: string; title: string; model: string; createdAt: number; updatedAt: number; messages?: Message[] }
export interface Message { id: string; role: string; content: string; meta: Record<string, unknown>; createdAt: number }

export class Store {
  readonly db: DB;
  readonly imagesDir: string;
  readonly jobsDir: string;

  constructor(readonly dataDir: string, private readonly cipher: HistoryCipher | null, readonly encryptHistory: boolean) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.imagesDir = path.join(dataDir, 'images');
    this.jobsDir = path.join(dataDir, 'jobs');
    mkdirSync(this.imagesDir, { recursive: true });
    mkdirSync(this.jobsDir, { recursive: true });
    this.db = new Database(path.join(dataDir, 'aigc.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    if (encryptHistory) this.checkAndApplyEncryption();
    // Jobs that were running when the server stopped cannot resume: say so rather than lie.
    this.db.prepare(`UPDATE jobs SET status = 'failed', error = 'interrupted: the server stopped while the job ran', finished_at = ? WHERE status IN ('queued', 'running')`).run(Date.now());
  }

  static schemaVersion(): number {
    return MIGRATIONS.length;
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const have = (this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM migrations').get() as { v: number }).v;
    if (have > MIGRATIONS.length) throw new ConfigError(`the database in ${this.dataDir} has schema version ${have}, newer than this aigc (${MIGRATIONS.length}); upgrade aigc`);
    for (let v = have + 1; v <= MIGRATIONS.length; v++) {
      const m = MIGRATIONS[v - 1];
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)').run(v, m.name, Date.now());
      })();
    }
  }

  getSetting(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setSetting(key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** A per-data-directory secret (URL signatures), created once. */
  secret(): Buffer {
    let s = this.getSetting('url_secret');
    if (!s) {
      s = randomBytes(32).toString('hex');
      this.setSetting('url_secret', s);
    }
    return Buffer.from(s, 'hex');
  }

  // ---- API keys -------------------------------------------------------------------------

  /** Makes the configured key hashes the only 'config' keys (a key removed from the flags stops working). */
  syncConfigKeys(hashes: string[]): void {
    this.db.transaction(() => {
      const keep = new Set(hashes);
      for (const row of this.db.prepare(`SELECT id, hash FROM api_keys WHERE source = 'config'`).all() as { id: string; hash: string }[]) {
        if (!keep.has(row.hash)) this.db.prepare('DELETE FROM api_keys WHERE id = ?').run(row.id);
      }
      const ins = this.db.prepare(`INSERT OR IGNORE INTO api_keys (id, hash, source, created_at) VALUES (?, ?, 'config', ?)`);
      for (const h of hashes) ins.run(randomUUID(), h, Date.now());
    })();
  }

  apiKeyHashes(): string[] {
    return (this.db.prepare('SELECT hash FROM api_keys').all() as { hash: string }[]).map((r) => r.hash);
  }

  // ---- history encryption ---------------------------------------------------------------

  private checkAndApplyEncryption(): void {
    if (!this.cipher) throw new ConfigError('history encryption needs a key');
    const fp = this.cipher.fingerprint();
    const stored = this.getSetting('history_key_fingerprint');
    if (stored && stored !== fp) throw new ConfigError(`AIGC_HISTORY_KEY does not match the key the history in ${this.dataDir} was encrypted with`);
    this.db.transaction(() => {
      this.setSetting('history_key_fingerprint', fp);
      // Encrypt what an earlier, unencrypted run stored.
      for (const c of this.db.prepare('SELECT id, title FROM conversations').all() as { id: string; title: string }[]) {
        if (!isEncrypted(c.title)) this.db.prepare('UPDATE conversations SET title = ? WHERE id = ?').run(this.seal(c.title, `conversation:${c.id}`), c.id);
      }
      for (const m of this.db.prepare('SELECT id, content FROM messages').all() as { id: string; content: string }[]) {
        if (!isEncrypted(m.content)) this.db.prepare('UPDATE messages SET content = ? WHERE id = ?').run(this.seal(m.content, `message:${m.id}`), m.id);
      }
    })();
  }

  private seal(plain: string, aad: string): string {
    return this.encryptHistory && this.cipher ? this.cipher.encrypt(plain, aad) : plain;
  }

  private open(stored: string, aad: string): string {
    if (!isEncrypted(stored)) return stored;
    if (!this.cipher) return '[encrypted: start the server with AIGC_HISTORY_KEY to read]';
    return this.cipher.decrypt(stored, aad);
  }

  // ---- conversations --------------------------------------------------------------------

  createConversation(title: string, model: string): Conversation {
    const id = 'conv_' + randomUUID().replace(/-/g, '');
    const now = Date.now();
    this.db.prepare('INSERT INTO conversations (id, title, model, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(id, this.seal(title, `conversation:${id}`), model, now, now);
    return { id, title, model, createdAt: now, updatedAt: now };
  }

  listConversations(limit = 100): Conversation[] {
    const rows = this.db.prepare('SELECT * FROM conversations ORDER BY updated_at DESC LIMIT ?').all(limit) as ConversationRow[];
    return rows.map((r) => ({ id: r.id, title: this.open(r.title, `conversation:${r.id}`), model: r.model, createdAt: r.created_at, updatedAt: r.updated_at }));
  }

  getConversation(id: string): Conversation | undefined {
    const r = this.db.prepare('SELECT * FROM conversations WHERE id = ?').get(id) as ConversationRow | undefined;
    if (!r) return undefined;
    const msgs = this.db.prepare('SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq').all(id) as MessageRow[];
    return {
      id: r.id, title: this.open(r.title, `conversation:${r.id}`), model: r.model, createdAt: r.created_at, updatedAt: r.updated_at,
      messages: msgs.map((m) => ({ id: m.id, role: m.role, content: this.open(m.content, `message:${m.id}`), meta: JSON.parse(m.meta) as Record<string, unknown>, createdAt: m.created_at })),
    };
  }

  /** Raw stored rows (tests check that encrypted history is not plaintext on disk). */
  rawMessages(conversationId: string): MessageRow[] {
    return this.db.prepare('SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq').all(conversationId) as MessageRow[];
  }

  addMessages(conversationId: string, messages: { role: string; content: string; meta?: Record<string, unknown> }[]): Message[] {
    return this.db.transaction(() => {
      const exists = this.db.prepare('SELECT 1 FROM conversations WHERE id = ?').get(conversationId);
      if (!exists) return [];
      let seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM messages WHERE conversation_id = ?').get(conversationId) as { s: number }).s;
      const now = Date.now();
      const out: Message[] = [];
      for (const m of messages) {
        const id = 'msg_' + randomUUID().replace(/-/g, '');
        this.db.prepare('INSERT INTO messages (id, conversation_id, seq, role, content, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(id, conversationId, ++seq, m.role, this.seal(m.content, `message:${id}`), JSON.stringify(m.meta ?? {}), now);
        out.push({ id, role: m.role, content: m.content, meta: m.meta ?? {}, createdAt: now });
      }
      this.db.prepare('UPDATE conversations SET updated_at = ? WHERE id = ?').run(now, conversationId);
      return out;
    })();
  }

  deleteConversation(id: string): boolean {
    return this.db.prepare('DELETE FROM conversations WHERE id = ?').run(id).changes > 0;
  }

  // ---- images ---------------------------------------------------------------------------

  /** The file of an image: always derived from a validated id, never from request text. */
  imagePath(id: string): string {
    if (!/^img_[0-9a-f]{32}$/.test(id)) throw new Error(`bad image id ${JSON.stringify(id)}`);
    return path.join(this.imagesDir, `${id}.png`);
  }

  static newImageId(): string {
    return 'img_' + randomUUID().replace(/-/g, '');
  }

  addImage(row: Omit<ImageRow, 'created_at'>): void {
    this.db.prepare('INSERT INTO images (id, model, prompt, seed, label, width, height, params, job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(row.id, row.model, row.prompt, row.seed, row.label, row.width, row.height, row.params, row.job_id, Date.now());
  }

  getImage(id: string): ImageRow | undefined {
    return this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
  }

  listImages(limit = 200, jobId?: string): ImageRow[] {
    if (jobId) return this.db.prepare('SELECT * FROM images WHERE job_id = ? ORDER BY created_at DESC LIMIT ?').all(jobId, limit) as ImageRow[];
    return this.db.prepare('SELECT * FROM images WHERE job_id IS NULL ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as ImageRow[];
  }

  // ---- training jobs --------------------------------------------------------------------

  createJob(kind: string, params: Record<string, unknown>): JobRow {
    const id = 'job_' + randomUUID().replace(/-/g, '');
    const now = Date.now();
    this.db.prepare(`INSERT INTO jobs (id, kind, status, params, created_at) VALUES (?, ?, 'queued', ?, ?)`).run(id, kind, JSON.stringify(params), now);
    return this.getJob(id)!;
  }

  getJob(id: string): JobRow | undefined {
    return this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
  }

  listJobs(limit = 100): JobRow[] {
    return this.db.prepare('SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as JobRow[];
  }

  updateJob(id: string, fields: Partial<Pick<JobRow, 'status' | 'progress' | 'error' | 'model_dir' | 'started_at' | 'finished_at'>>): void {
    const keys = Object.keys(fields) as (keyof typeof fields)[];
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE jobs SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @id`).run({ ...fields, id });
  }

  addJobEvent(jobId: string, step: number, losses: Record<string, number>, sampleImageId: string | null): number {
    const seq = (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM job_events WHERE job_id = ?').get(jobId) as { s: number }).s + 1;
    this.db.prepare('INSERT INTO job_events (job_id, seq, step, losses, sample_image_id, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(jobId, seq, step, JSON.stringify(losses), sampleImageId, Date.now());
    return seq;
  }

  jobEvents(jobId: string, afterSeq = 0): { seq: number; step: number; losses: Record<string, number>; sampleImageId: string | null }[] {
    return (this.db.prepare('SELECT * FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq').all(jobId, afterSeq) as { seq: number; step: number; losses: string; sample_image_id: string | null }[])
      .map((r) => ({ seq: r.seq, step: r.step, losses: JSON.parse(r.losses) as Record<string, number>, sampleImageId: r.sample_image_id }));
  }

  close(): void {
    this.db.close();
  }
}
