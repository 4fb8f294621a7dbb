/**
 * /message-test's offline test against a server with a small send rate limit (its own worker and
 * server, through the `serverEnv` option): a run larger than the burst is refused with `429` part of
 * the way, and the page waits as long as `Retry-After` says and sends the same message again, so the
 * run completes instead of stopping with an error.
 */
import { test, expect, snap } from '../support/fixtures';
import { operator } from '../support/actor';

const BURST = 10;
const COUNT = 30;

test.use({ serverEnv: { COURIER_SEND_RATE_PER_SEC: '5', COURIER_SEND_BURST: String(BURST) } });

test('a run above the rate-limit burst completes: 429 waits Retry-After and retries', async ({ actor, server }, testInfo) => {
  test.setTimeout(120_000);
  const op = await operator(actor, server);
  const bob = await actor('bob');
  await bob.registerViaApi(); // offline: the messages wait for him

  const page = op.page;
  // Every 429 the page gets, with its Retry-After.
  const refused: (string | null)[] = [];
  page.on('response', (r) => {
    if (r.status() === 429 && r.url().includes('/messages')) refused.push(r.headers()['retry-after'] ?? null);
  });
  await page.goto('/message-test');
  await expect(page.getByTestId('mt-conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
  // A fresh server: no push has ended yet, so there is no success rate to show (not "100%").
  await expect(page.locator('.mt-table tbody tr'), 'the statistics have loaded').toHaveCount(3, { timeout: 20_000 });
  await expect(page.getByTestId('mt-success-rate')).toHaveText('—');
  await expect(page.getByTestId('mt-stats')).toHaveAttribute('data-success-rate', '');
  await page.getByTestId('mt-offline-target').fill(bob.username);
  await page.getByTestId('mt-offline-count').fill(String(COUNT));
  await page.getByTestId('mt-offline-run').click();

  const result = page.getByTestId('mt-offline-result');
  await expect(result).toHaveAttribute('data-sent', String(COUNT), { timeout: 60_000 });
  await expect(result.getByRole('alert')).toHaveCount(0);
  expect(refused.length, 'the server refused some sends (the run is above the burst)').toBeGreaterThan(0);
  expect(refused.every((h) => h !== null && /^\d+$/.test(h)), `Retry-After on every 429: ${refused}`).toBe(true);
  await expect(result).toHaveAttribute('data-throttled', /^[1-9]\d*$/);
  await expect(result).toHaveAttribute('data-pending', String(COUNT), { timeout: 30_000 });

  // Exactly COUNT messages reached Bob: a retried send is the same message (same client_msg_id).
  const offline = await (await bob.request.get('/api/offline-messages?limit=100')).json();
  expect(offline.pending_total).toBe(COUNT);
  const contents: string[] = offline.messages.map((m: { content: string }) => m.content);
  expect(new Set(contents).size).toBe(COUNT);

  // Bob connects: the run ends with everything pushed.
  await bob.openChat();
  await expect(result).toHaveAttribute('data-pushed', String(COUNT), { timeout: 60_000 });
  await expect(result).toHaveAttribute('data-running', 'false');
  await expect(page.getByTestId('mt-success-rate')).toHaveText(/^\d+(\.\d)?%$/, { timeout: 20_000 });
  await snap(testInfo, page, 'message-test: run above the burst completed', { fullPage: true });
});
