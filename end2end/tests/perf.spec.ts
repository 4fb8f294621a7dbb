/**
 * Time until the chat UI is interactive, for docs/BENCHMARKS.md: from navigation start to the chat
 * shell rendered with the WebSocket open, for a logged-in user. The figure is attached to the report and written to test-results/perf.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { test, expect } from '../support/fixtures';

test('chat UI becomes interactive quickly', async ({ actor }, testInfo) => {
  const alice = await actor('alice');
  await alice.registerViaApi();
  const page = alice.page;
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = Date.now();
    await page.goto('/');
    await expect(page.getByTestId('chat-shell')).toBeVisible({ timeout: 30_000 });
    await expect(page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 30_000 });
    samples.push(Date.now() - started);
  }
  // The first load includes compiling the WASM module; later loads hit the browser cache.
  const sorted = [...samples].sort((a, b) => a - b);
  const result = { first_load_ms: samples[0], median_ms: sorted[Math.floor(sorted.length / 2)], samples_ms: samples };
  await testInfo.attach('time-to-interactive', { body: JSON.stringify(result, null, 2), contentType: 'application/json' });
  fs.mkdirSync(path.join(__dirname, '..', 'test-results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, '..', 'test-results', 'perf.json'), JSON.stringify(result, null, 2));
  testInfo.annotations.push({ type: 'time to interactive (ms)', description: `first ${result.first_load_ms}, median ${result.median_ms}` });
  // A generous ceiling: this guards against a regression that makes the app unusable, not a benchmark.
  expect(result.median_ms).toBeLessThan(10_000);
});
