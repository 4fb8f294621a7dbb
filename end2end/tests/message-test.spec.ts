/**
 * The /message-test page (the e2e operator: the page is for operators, see message-test-access.spec):
 * live WebSocket state and RTT chart, the offline-message test against another registered user
 * (records go from pending to pushed when that user connects), the chat-history test and its
 * verdict, and the push statistics.
 */
import { test, expect, snap } from '../support/fixtures';
import { operator } from '../support/actor';

// More than the 50 recent records /api/diagnostics lists: the test must watch its own ids.
const COUNT = 60;

test('/message-test: connection, RTT, offline test, history test, stats', async ({ actor, server }, testInfo) => {
  test.setTimeout(180_000);
  const op = await operator(actor, server);
  const bob = await actor('bob');
  await bob.registerViaApi(); // registered, but no page open: Bob is offline

  const page = op.page;
  await page.goto('/message-test');
  await expect(page.getByTestId('mt-conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
  await expect(page.getByTestId('mt-event-log')).toBeVisible();
  await expect(page.getByTestId('mt-event-log')).not.toBeEmpty();
  await expect(page.getByTestId('mt-rtt-chart')).toBeVisible();
  // The RTT appears once a ping has been answered (the page's heartbeat; allow a full interval).
  await expect(page.getByTestId('mt-rtt-value')).toHaveText(/\d/, { timeout: 60_000 });
  // The chart is readable: a fixed height, y labels in HTML text (0, half, max), a caption, a summary.
  const chart = page.getByTestId('mt-rtt-chart');
  const box = await chart.boundingBox();
  expect(box?.height ?? 0, 'RTT chart height (px)').toBeGreaterThanOrEqual(120);
  const ticks = chart.getByTestId('mt-rtt-tick');
  expect(await ticks.count(), 'RTT chart y labels').toBeGreaterThanOrEqual(3);
  await expect(ticks.first()).toHaveText(/^\d+(\.\d+)? ms$/);
  const tickFont = await ticks.first().evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
  expect(tickFont, 'y label font size (px)').toBeGreaterThanOrEqual(12);
  await expect(chart).toContainText('→');
  const summary = page.getByTestId('mt-rtt-summary');
  await expect(summary).toBeVisible();
  for (const k of ['last', 'min', 'median', 'p95']) {
    await expect(summary, `summary ${k}`).toHaveAttribute(`data-${k}`, /^\d+(\.\d+)?$/);
  }
  await expect(page.getByTestId('mt-stats')).toBeVisible();
  await snap(testInfo, page, 'message-test: connected', { fullPage: true });

  // Offline-message test: send COUNT test messages to Bob, who is not connected.
  await page.getByTestId('mt-offline-target').fill(bob.username);
  const count = page.getByTestId('mt-offline-count');
  const countTag = await count.evaluate((el) => el.tagName.toLowerCase());
  if (countTag === 'select') await count.selectOption(String(COUNT));
  else await count.fill(String(COUNT));
  await page.getByTestId('mt-offline-run').click();
  const result = page.getByTestId('mt-offline-result');
  await expect(result).toBeVisible({ timeout: 30_000 });
  await expect(result).toHaveAttribute('data-total', String(COUNT), { timeout: 30_000 });
  await expect(result).toHaveAttribute('data-pending', String(COUNT), { timeout: 30_000 });
  await expect(result).toHaveAttribute('data-pushed', '0');
  await snap(testInfo, page, 'message-test: offline messages pending', { fullPage: true });

  // The server agrees: COUNT messages wait for Bob.
  const offline = await bob.request.get('/api/offline-messages?limit=100');
  expect(offline.status()).toBe(200);
  const offlineBody = await offline.json();
  expect(offlineBody.pending_total, 'pending_total for Bob').toBe(COUNT);
  expect(offlineBody.messages).toHaveLength(COUNT);

  // Bob connects: his client receives and acknowledges them; the records reach "pushed".
  await bob.openChat();
  await expect(result).toHaveAttribute('data-pushed', String(COUNT), { timeout: 60_000 });
  await expect(result).toHaveAttribute('data-pending', '0', { timeout: 60_000 });
  await expect(result, 'the run ends once every message is pushed').toHaveAttribute('data-running', 'false');
  await snap(testInfo, page, 'message-test: offline messages pushed', { fullPage: true });
  const offlineAfter = await (await bob.request.get('/api/offline-messages?limit=100')).json();
  expect(offlineAfter.pending_total, 'nothing waits for Bob once he is connected').toBe(0);

  // Chat-history test on the conversation the offline test used.
  const conv = await op.directConversationId(bob);
  const select = page.getByTestId('mt-history-conversation');
  await expect(select.locator('option')).not.toHaveCount(0, { timeout: 20_000 });
  const options = await select.locator('option').evaluateAll((els) =>
    els.map((e) => ({ value: (e as HTMLOptionElement).value, label: (e.textContent ?? '').trim() })),
  );
  const option =
    options.find((o) => o.value === String(conv)) ?? options.find((o) => o.label.includes(bob.displayName));
  expect(option, `an option for conversation ${conv} (${JSON.stringify(options)})`).toBeDefined();
  await select.selectOption({ value: option!.value });
  await page.getByTestId('mt-history-run').click();
  const history = page.getByTestId('mt-history-result');
  await expect(history).toHaveAttribute('data-count', String(COUNT), { timeout: 30_000 });
  await expect(history).toHaveAttribute('data-pages', /^[1-9]\d*$/);
  await expect(history).toHaveAttribute('data-ms', /^\d+(\.\d+)?$/);
  // The verdict is said in words, not only in an attribute.
  await expect(history).toHaveAttribute('data-gapless', 'true');
  await expect(history.getByTestId('mt-history-verdict')).toHaveText('无间断 ✓');

  // Statistics.
  const stats = page.getByTestId('mt-stats');
  await expect(stats).toHaveAttribute('data-pending', /^\d+$/);
  await expect(stats).toHaveAttribute('data-success-rate', /\d/);
  await expect(page.getByTestId('mt-success-rate')).toHaveText(/^\d+(\.\d)?%$/);
  await expect(page.getByTestId('mt-conn-state')).toHaveAttribute('data-state', 'open');
  await snap(testInfo, page, 'message-test: history and stats', { fullPage: true });
});
