/**
 * Playwright configuration for Courier's end-to-end suite.
 *
 * Real Debian Chromium (/usr/bin/chromium; never `playwright install`). Each worker starts its own
 * prebuilt server binary (COURIER_BIN, default ../target/debug/courier) on port E2E_PORT+n
 * (default 3100) with a fresh SQLite database — see support/fixtures.ts and support/server.ts.
 * The server is managed by a worker fixture rather than `webServer` because the reconnect test
 * kills it and starts it again on the same database and port.
 *
 *   E2E_WORKERS   number of workers (default 2; the machines have 2 cores)
 *   COURIER_BIN   server binary
 *   E2E_PORT      first port (default 3100)
 */
import { defineConfig } from '@playwright/test';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  timeout: 120_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: Number(process.env.E2E_WORKERS ?? 2),
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: { width: 1280, height: 800 },
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    screenshot: 'on',
    trace: 'retain-on-failure',
    video: 'off',
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'chromium' }],
});
