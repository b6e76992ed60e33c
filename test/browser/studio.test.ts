/**
 * The studio in a real browser: playwright-core driving Debian's Chromium (/usr/bin/chromium,
 * installed by .ci/run; never a downloaded browser) against `aigc serve` with an API key and the
 * real models. Chats with streaming, generates images, follows a training job, saves screenshots
 * to dist/test-screenshots/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStudioBuilt, ROOT } from '../server/build.js';
import { cleanup, spawnServe, tempDir } from '../server/helpers.js';
import { realModels } from '../server/real-models.js';

const KEY = 'sk-studio-test-5f2b8c1d9e7a4b3c';
const CHROMIUM = process.env.AIGC_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'dist/test-screenshots');

describe.skipIf(!existsSync(CHROMIUM))('web studio in Chromium', () => {
  let server: Awaited<ReturnType<typeof spawnServe>>;
  let dataDir: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const m = await realModels();
    ensureStudioBuilt();
    dataDir = tempDir();
    server = await spawnServe(['--model', m.text, '--image-model', m.image, '--data-dir', dataDir], { AIGC_API_KEYS: KEY });
    profile = mkdtempSync(path.join(os.tmpdir(), 'aigc-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      httpCredentials: { username: 'studio', password: KEY },
      viewport: { width: 1280, height: 860 },
    });
    page = context.pages()[0] ?? await context.newPage();
    mkdirSync(SHOTS, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (dataDir) cleanup(dataDir);
  });

  it('asks for the key: without credentials the studio is a 401', async () => {
    const r = await fetch(server.url + '/');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('chat: a message streams back, token by token', async () => {
    await page.goto(server.url + '/#/chat');
    await page.waitForSelector('#chat-input');
    await page.waitForFunction(() => document.querySelector('#status')?.textContent?.includes('API keys on'));
    // Count text updates of the assistant's reply while it streams.
    await page.evaluate(() => {
      const w = window as unknown as { __updates: number; __sawStreaming: boolean };
      w.__updates = 0;
      w.__sawStreaming = false;
      new MutationObserver((ms) => {
        for (const m of ms) {
          const el = (m.target instanceof Element ? m.target : m.target.parentElement)?.closest('.msg.assistant .content');
          if (el) { w.__updates++; if (el.classList.contains('streaming')) w.__sawStreaming = true; }
        }
      }).observe(document.getElementById('chat-log')!, { subtree: true, childList: true, characterData: true });
    });
    await page.fill('#chat-max-tokens', '40');
    await page.fill('#chat-seed', '1');
    await page.fill('#chat-input', 'Hello! Tell me about the sea.');
    await page.click('#chat-send');
    await page.waitForFunction(() => document.querySelector('#chat-stats')?.textContent?.includes('tokens'), null, { timeout: 60_000 });
    const reply = await page.locator('.msg.assistant .content').first().textContent();
    expect(reply!.length).toBeGreaterThan(0);
    const w = await page.evaluate(() => { const x = window as unknown as { __updates: number; __sawStreaming: boolean }; return { __updates: x.__updates, __sawStreaming: x.__sawStreaming }; });
    expect(w.__sawStreaming).toBe(true);
    expect(w.__updates).toBeGreaterThan(2);
    expect(await page.locator('#chat-stop-button').isDisabled()).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'studio-chat.png'), fullPage: true });
    // Stop: hold the next request in the network layer, press Stop while it waits.
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    await page.route('**/v1/chat/completions', async (route) => { await held; await route.continue().catch(() => {}); });
    await page.fill('#chat-input', 'Please stop');
    await page.click('#chat-send');
    await page.waitForFunction(() => !(document.querySelector('#chat-stop-button') as HTMLButtonElement).disabled);
    await page.click('#chat-stop-button');
    await page.waitForFunction(() => document.querySelector('#chat-stats')?.textContent?.startsWith('stopped'));
    expect(await page.locator('#chat-send').isDisabled()).toBe(false);
    release();
    await page.unroute('**/v1/chat/completions');
    // Saved: the conversation is in the history.
    await page.goto(server.url + '/#/history');
    await page.waitForSelector('#history-conversations a');
    expect(await page.locator('#history-conversations a').first().textContent()).toContain('Hello! Tell me about the sea.');
  });

  it('images: a grid of generated digits, with downloads', async () => {
    await page.goto(server.url + '/#/images');
    await page.waitForSelector('#img-generate');
    await page.fill('#img-prompt', 'a handwritten 4');
    await page.fill('#img-n', '6');
    await page.fill('#img-seed', '10');
    await page.click('#img-generate');
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll<HTMLImageElement>('#img-grid img')];
      return imgs.length === 6 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    }, null, { timeout: 60_000 });
    const captions = await page.locator('#img-grid figcaption span').allTextContents();
    expect(captions[0]).toMatch(/^seed 10/);
    const href = await page.locator('#img-grid a').first().getAttribute('href');
    expect(href).toMatch(/download=1/);
    await page.click('#interp-go');
    await page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll<HTMLImageElement>('#interp-strip img')];
      return imgs.length === 8 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    }, null, { timeout: 60_000 });
    await page.screenshot({ path: path.join(SHOTS, 'studio-images.png'), fullPage: true });
  });

  it('training: a job streams its losses into the chart and ends with a sample grid', async () => {
    await page.goto(server.url + '/#/training');
    await page.waitForSelector('#train-start');
    await page.fill('#train-steps', '4');
    await page.fill('#train-batch', '16');
    await page.fill('#train-sample-every', '2');
    await page.click('#train-start');
    await page.waitForFunction(() => /succeeded|failed/.test(document.querySelector('#train-status')?.textContent ?? ''), null, { timeout: 150_000 });
    expect(await page.locator('#train-status').textContent()).toContain('succeeded');
    expect(await page.locator('#train-samples img').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(SHOTS, 'studio-training.png'), fullPage: true });
  }, 180_000);
});
