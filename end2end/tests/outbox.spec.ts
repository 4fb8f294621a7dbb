/**
 * A message the user pressed Send on is never lost by closing the tab, and drafts survive.
 *
 * The outbox lives in localStorage, shared by the user's tabs: closing the tab while offline
 * (after the page's warning) keeps the message, and the next time Courier is open it goes out —
 * exactly once. With two tabs open, the other one takes over sending when the first closes.
 */
import { test, expect, snap } from '../support/fixtures';
import { messageByText, uniqueText, type Actor, directPair } from '../support/actor';
import type { Page } from '@playwright/test';

async function copiesAtBob(bob: Actor, conv: number, text: string): Promise<number> {
  const res = await bob.request.get(`/api/conversations/${conv}/messages?limit=50`);
  expect(res.status()).toBe(200);
  const body = await res.json();
  return (body.messages as { content: string | null }[]).filter((m) => m.content === text).length;
}

/** Closes `page` as a user would, expecting (and accepting) the "leave the page?" question. */
async function closeAcceptingTheWarning(page: Page): Promise<void> {
  const asked = new Promise<string>((resolve) => {
    page.once('dialog', async (d) => {
      const type = d.type();
      await d.accept();
      resolve(type);
    });
  });
  const closed = new Promise<void>((resolve) => page.once('close', () => resolve()));
  await page.close({ runBeforeUnload: true });
  expect(await asked, 'the page warns before closing with a message unsent').toBe('beforeunload');
  await closed;
}

test('a message sent offline survives closing the tab and goes out once when Courier is opened again; drafts survive a reload', async ({ actor }, testInfo) => {
  const { alice, bob, conv } = await directPair(actor);
  await alice.openChat();
  await alice.openConversation(conv);

  // A draft survives a reload.
  const draft = uniqueText('草稿');
  await alice.page.getByTestId('composer-input').fill(draft);
  await alice.page.reload();
  await alice.openConversation(conv);
  await expect(alice.page.getByTestId('composer-input')).toHaveValue(draft);
  await alice.page.getByTestId('composer-input').fill('');

  // Offline, Alice sends; the message waits. She closes the tab.
  await alice.context.setOffline(true);
  const text = uniqueText('关掉标签页之前');
  const bubble = await alice.send(text);
  await expect(bubble).toHaveAttribute('data-status', 'sending');
  await snap(testInfo, alice.page, 'offline, unsent, about to close');
  await closeAcceptingTheWarning(alice.page);
  expect(await copiesAtBob(bob, conv, text), 'nothing reached the server while offline').toBe(0);

  // Later, online again, she opens Courier: the message goes out, exactly once.
  await alice.context.setOffline(false);
  alice.page = await alice.newPage();
  await alice.openChat();
  await alice.openConversation(conv);
  const again = messageByText(alice.page, text);
  await expect(again).toHaveCount(1, { timeout: 10_000 });
  await expect(again).toHaveAttribute('data-status', /^(sent|delivered)$/, { timeout: 10_000 });
  await expect.poll(() => copiesAtBob(bob, conv, text), { message: 'bob has it once' }).toBe(1);
});

test('with two tabs open, the other tab sends the message of a tab that was closed', async ({ actor }) => {
  const { alice, bob, conv } = await directPair(actor);
  await alice.openChat();
  await alice.openConversation(conv);
  const second = await alice.newPage();
  await alice.openChat(second);
  await alice.openConversation(conv, second);
  // Count the `send` frames each tab puts on the wire for the message.
  const text = uniqueText('另一个标签页');
  const sends = { first: 0, second: 0 };
  const countSends = (page: Page, which: 'first' | 'second') =>
    page.on('websocket', (ws) =>
      ws.on('framesent', (f) => {
        const payload = typeof f.payload === 'string' ? f.payload : f.payload.toString();
        if (payload.includes('"type":"send"') && payload.includes(text)) sends[which] += 1;
      }),
    );
  countSends(alice.page, 'first');
  countSends(second, 'second');

  await alice.context.setOffline(true);
  await expect(alice.page.getByTestId('conn-state')).not.toHaveAttribute('data-state', 'open', { timeout: 5_000 });
  const bubble = await alice.send(text);
  await expect(bubble).toHaveAttribute('data-status', 'sending');
  // The second tab shows it too: the outbox is shared.
  await expect(messageByText(second, text), 'the other tab sees the unsent message').toHaveCount(1, { timeout: 5_000 });
  await closeAcceptingTheWarning(alice.page);

  await alice.context.setOffline(false);
  const copy = messageByText(second, text);
  await expect(copy).toHaveAttribute('data-status', /^(sent|delivered)$/, { timeout: 15_000 });
  await expect.poll(() => copiesAtBob(bob, conv, text), { message: 'bob has it once' }).toBe(1);
  expect(sends.first, 'the closed tab sent nothing (it was offline)').toBe(0);
  expect(sends.second, 'the remaining tab sent it').toBeGreaterThanOrEqual(1);
});
