/**
 * Honest read receipts: a message counts as read only once it has been on the reader's screen.
 *
 * Bob is scrolled up in a long conversation when Alice's new message arrives. It must stay
 * unread — his read position does not move and Alice does not see "read" — while only the
 * "new messages" pill tells him of it. When he clicks the pill the list scrolls down, the message
 * is on screen, and only then is it read, on the server and on Alice's screen.
 */
import { test, expect, snap } from '../support/fixtures';
import { messageById, messageList, messages, type Actor, directPair } from '../support/actor';
import type { Page } from '@playwright/test';

const N = 60;

async function readSeq(who: Actor, conversationId: number): Promise<number> {
  const c = (await who.conversations()).find((x) => x.id === conversationId);
  if (!c) throw new Error(`${who.label} does not see conversation ${conversationId}`);
  return c.read_seq;
}

async function scrollListToTop(page: Page): Promise<void> {
  await messageList(page).evaluate((el) => {
    el.scrollTop = 0;
    el.dispatchEvent(new Event('scroll'));
  });
}

test('a message that arrives while the reader is scrolled up stays unread until it is on screen', async ({ actor }, testInfo) => {
  test.setTimeout(120_000);
  const { alice, bob, conv } = await directPair(actor);
  const run = Date.now().toString(36);
  for (let i = 1; i <= N; i++) {
    await alice.sendViaApi(conv, `read-receipts ${i}`, `e2e-read-${run}-${i}`);
  }

  await alice.openChat();
  await alice.openConversation(conv);
  await bob.openChat();
  await bob.openConversation(conv);
  // All N are unread: Bob lands at the first of them and jumps to the newest, so everything up
  // to N has been on his screen.
  await bob.page.getByTestId('jump-to-latest').click();
  await expect(messages(bob.page).last()).toHaveAttribute('data-seq', String(N), { timeout: 20_000 });
  await expect.poll(() => readSeq(bob, conv), { message: 'bob has read up to the newest', timeout: 10_000 }).toBe(N);

  // Bob scrolls up (an older page may load; wait until it did and the list settled).
  await scrollListToTop(bob.page);
  await expect(bob.page.getByTestId('history-loading')).toHaveCount(0, { timeout: 20_000 });
  await scrollListToTop(bob.page);
  await expect
    .poll(() => messageList(bob.page).evaluate((el) => el.scrollTop), { message: 'bob is at the top of the list' })
    .toBeLessThan(50);

  const late = await alice.sendViaApi(conv, 'read-receipts late', `e2e-read-${run}-late`);
  expect(late.seq).toBe(N + 1);
  const bobsCopy = messageById(bob.page, late.id);
  await expect(bobsCopy, 'the new message reached bob').toHaveCount(1, { timeout: 10_000 });
  await expect(bob.page.getByTestId('new-messages-pill'), 'bob is told of it by the pill').toBeVisible();
  await snap(testInfo, bob.page, 'bob scrolled up, a new message below');

  // It stays unread for as long as he does not look: checked repeatedly over 3 s.
  const alicesCopy = messageById(alice.page, late.id);
  await expect(alicesCopy).toHaveCount(1, { timeout: 10_000 });
  for (let i = 0; i < 6; i++) {
    expect(await readSeq(bob, conv), `bob's read position while scrolled up (check ${i + 1})`).toBe(N);
    await expect(alicesCopy).not.toHaveAttribute('data-status', 'read');
    await bob.page.waitForTimeout(500);
  }

  // The pill takes him there; now it is read, on the server and for Alice.
  await bob.page.getByTestId('new-messages-pill').click();
  await expect(bobsCopy).toBeInViewport();
  await expect.poll(() => readSeq(bob, conv), { message: 'read once on screen', timeout: 10_000 }).toBe(N + 1);
  await expect(alicesCopy).toHaveAttribute('data-status', 'read', { timeout: 10_000 });
  await snap(testInfo, alice.page, 'alice sees read');
});
