/**
 * Test fixtures: a per-worker Courier server, and "actors" (one browser context per user).
 *
 *   import { test, expect } from '../support/fixtures';
 *   test('x', async ({ actor, server }) => {
 *     const alice = await actor('alice');     // new context + page, not yet registered
 *     await alice.registerViaApi();           // sets the HttpOnly session cookie on the context
 *     await alice.openChat();                 // '/', waits for chat-shell and conn-state=open
 *     const op = await operator(actor);       // (actor.ts) the e2e operator, for /message-test
 *   });
 *
 * A spec that needs its server configured differently sets the worker option `serverEnv`
 * (`test.use({ serverEnv: { COURIER_SEND_BURST: '10' } })`): its tests then get a worker and a
 * server of their own.
 *
 * On failure, every page of every actor is screenshotted into the report, with the pages'
 * console output / WebSocket frame log and the server log of that test.
 */
import * as path from 'node:path';
import { test as base, expect, type Browser, type TestInfo } from '@playwright/test';
import { CourierServer } from './server';
import { Actor } from './actor';

export { expect };
export { Actor };

type WorkerFixtures = {
  server: CourierServer;
  /** Extra settings for the worker's server (over server.ts's defaults); an option. */
  serverEnv: Record<string, string>;
};

type TestFixtures = {
  /** Creates a user (browser context + first page) with a unique username, or the given one. */
  actor: (label: string, opts?: { username?: string }) => Promise<Actor>;
  /** Makes sure the worker's server is up at the start of each test (a failed restart test may leave it down). */
  serverUp: void;
};

const BASE_PORT = Number(process.env.E2E_PORT ?? 3100);

export const test = base.extend<TestFixtures, WorkerFixtures>({
  serverEnv: [{}, { scope: 'worker', option: true }],

  server: [
    async ({ serverEnv }, use, workerInfo) => {
      const logPath = path.join(
        __dirname,
        '..',
        'test-results',
        'server-logs',
        `worker-${workerInfo.workerIndex}-port-${BASE_PORT + workerInfo.parallelIndex}.log`,
      );
      const server = new CourierServer({ port: BASE_PORT + workerInfo.parallelIndex, logPath, env: serverEnv });
      const onExit = () => server.killNow();
      process.on('exit', onExit);
      await server.start();
      await use(server);
      await server.stop('SIGTERM');
      process.off('exit', onExit);
      server.cleanup();
    },
    { scope: 'worker', timeout: 60_000 },
  ],

  baseURL: async ({ server }, use) => {
    await use(server.baseURL);
  },

  serverUp: [
    async ({ server }, use, testInfo) => {
      if (!server.isRunning()) await server.start();
      const offset = server.logOffset();
      await use();
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('server.log', {
          body: server.logSince(offset),
          contentType: 'text/plain',
        });
      }
    },
    { auto: true },
  ],

  actor: async ({ browser, baseURL }, use, testInfo) => {
    const actors: Actor[] = [];
    const make = async (label: string, opts?: { username?: string }) => {
      const a = await Actor.create(browser as Browser, baseURL!, label, opts);
      actors.push(a);
      return a;
    };
    await use(make);
    // A panic in the client (Rust's panic hook logs "panicked at") or an uncaught exception is
    // a bug even when the page happened to go on working: it fails the test.
    const crashes = actors.flatMap((a) => a.log.filter((l) => / PAGE ERROR: |panicked at /.test(l)));
    const failed = testInfo.status !== testInfo.expectedStatus || crashes.length > 0;
    for (const a of actors) {
      if (failed) await a.attachDiagnostics(testInfo).catch(() => {});
      await a.context.close().catch(() => {});
    }
    expect(crashes, 'no panic or uncaught exception in any page').toEqual([]);
  },
});

/** Saves a screenshot into the test's output dir and attaches it to the HTML report. */
export async function snap(
  testInfo: TestInfo,
  page: import('@playwright/test').Page,
  name: string,
  opts: { fullPage?: boolean } = {},
): Promise<string> {
  const safe = name.replace(/[^a-zA-Z0-9._-]+/g, '-');
  const file = testInfo.outputPath(`${safe}.png`);
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? false });
  await testInfo.attach(name, { path: file, contentType: 'image/png' });
  return file;
}
