/**
 * Losing the network shows at once. When the browser goes offline the client drops its socket
 * and says so within a moment — not after the heartbeat timeout (8 s in these tests, ~45 s with
 * the default settings) — and a message sent meanwhile says it is waiting for the network. When
 * the network is back the client reconnects at once and the message goes out, exactly once.
 */
import { test, expect, snap } from '../support/fixtures';
import { uniqueText, directPair } from '../support/actor';

test('going offline shows at once, and a message sent offline waits for the network, then goes out', async ({ actor }, testInfo) => {
  const { alice, bob, conv } = await directPair(actor);
  await alice.openChat();
  await alice.openConversation(conv);
  const page = alice.page;
  const badge = page.getByTestId('conn-state');
  await expect(badge).toHaveAttribute('data-state', 'open');

  await alice.context.setOffline(true);
  await expect(badge, 'offline within 1.5 s of the network going away').toHaveAttribute('data-state', 'offline', {
    timeout: 1_500,
  });
  const banner = page.getByTestId('reconnect-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toHaveAttribute('data-offline', 'true');
  await expect(banner).toContainText('网络已断开');

  const text = uniqueText('离线时发送');
  const bubble = await alice.send(text);
  await expect(bubble).toHaveAttribute('data-status', 'sending');
  await expect(bubble).toHaveAttribute('data-waiting', 'network');
  await expect(bubble.getByTestId('message-waiting')).toHaveText('等待网络');
  await snap(testInfo, page, 'offline: waiting for the network');
  // Still offline a while later: nothing went out, nothing was lost.
  await page.waitForTimeout(1_000);
  await expect(bubble).toHaveAttribute('data-waiting', 'network');

  await alice.context.setOffline(false);
  await expect(badge, 'reconnected once the network is back').toHaveAttribute('data-state', 'open', { timeout: 5_000 });
  await expect(banner).toHaveCount(0);
  await expect(bubble).toHaveAttribute('data-status', /^(sent|delivered)$/, { timeout: 10_000 });
  await expect(bubble).not.toHaveAttribute('data-waiting', 'network');

  // Bob has it exactly once.
  const history = await bob.request.get(`/api/conversations/${conv}/messages?limit=50`);
  expect(history.status()).toBe(200);
  const body = await history.json();
  const copies = (body.messages as { content: string | null }[]).filter((m) => m.content === text);
  expect(copies, 'delivered exactly once').toHaveLength(1);
});

test('a send on a connection that silently died is noticed within seconds by a probe', async ({ actor, server }) => {
  test.setTimeout(120_000);
  const { alice, bob, conv } = await directPair(actor);
  await alice.openChat();
  await alice.openConversation(conv);
  const badge = alice.page.getByTestId('conn-state');
  await expect(badge).toHaveAttribute('data-state', 'open');

  // The server freezes: the socket stays open as far as the browser knows (half-open).
  const pid = (server as any).child.pid as number;
  process.kill(pid, 'SIGSTOP');
  try {
    const text = uniqueText('探测');
    const t0 = Date.now();
    const bubble = await alice.send(text);
    await expect(bubble).toHaveAttribute('data-status', 'sending');
    // The probe sent with it goes unanswered for 3 s. (The heartbeat alone would take at least
    // 5 s from here: 3 s heartbeat interval, 8 s timeout in these tests.)
    await expect(badge, 'the dead connection is noticed by the probe').not.toHaveAttribute('data-state', 'open', {
      timeout: 4_500,
    });
    test.info().annotations.push({ type: 'detected after (ms)', description: String(Date.now() - t0) });
    process.kill(pid, 'SIGCONT');
    await expect(badge).toHaveAttribute('data-state', 'open', { timeout: 30_000 });
    await expect(bubble).toHaveAttribute('data-status', /^(sent|delivered|read)$/, { timeout: 30_000 });
  } finally {
    process.kill(pid, 'SIGCONT');
  }
});
