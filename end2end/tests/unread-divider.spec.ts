/**
 * Opening a conversation with more unread messages than a screenful lands at the first unread one,
 * under a "new messages" divider, instead of at the newest; "jump to latest" goes to the end.
 *
 * Alice sends 120 messages; Bob has read 10 of them. When Bob opens the conversation, seq 11 and
 * the divider are on screen, the newest (120) is not, and his read position does not jump to 120:
 * only what he has seen counts. The jump-to-latest control brings 120 into view and reads it.
 */
import { test, expect, snap } from '../support/fixtures';
import { messageList, type Actor, directPair } from '../support/actor';

const N = 120;
const READ = 10;

async function readSeq(who: Actor, conversationId: number): Promise<number> {
  const c = (await who.conversations()).find((x) => x.id === conversationId);
  if (!c) throw new Error(`${who.label} does not see conversation ${conversationId}`);
  return c.read_seq;
}

const bubble = (page: import('@playwright/test').Page, seq: number) =>
  messageList(page).locator(`[data-testid="message"][data-seq="${seq}"]`);

test('many unread: the conversation opens at the first unread under a divider, and jump-to-latest reads the rest', async ({ actor }, testInfo) => {
  test.setTimeout(120_000);
  const { alice, bob, conv } = await directPair(actor);
  const run = Date.now().toString(36);
  for (let i = 1; i <= N; i++) {
    await alice.sendViaApi(conv, `divider ${i}`, `e2e-divider-${run}-${i}`);
  }
  const marked = await bob.request.post(`/api/conversations/${conv}/read`, { data: { seq: READ } });
  expect(marked.status()).toBe(200);

  await bob.openChat();
  await bob.openConversation(conv);
  const divider = bob.page.getByTestId('unread-divider');
  await expect(divider, 'the divider shows').toBeInViewport({ timeout: 20_000 });
  await expect(bubble(bob.page, READ + 1), 'the first unread message is on screen').toBeInViewport();
  // The divider sits right above the first unread message.
  const next = divider.locator('xpath=following-sibling::*[@data-testid="message"][1]');
  await expect(next).toHaveAttribute('data-seq', String(READ + 1));
  await expect(bubble(bob.page, N), 'the newest message is not on screen').not.toBeInViewport();
  await expect(bob.page.getByTestId('jump-to-latest')).toBeVisible();
  await snap(testInfo, bob.page, 'bob lands at the first unread');

  // Only what was on screen counts as read: somewhere past 10, well short of 120.
  await expect.poll(() => readSeq(bob, conv), { message: 'read follows the screen', timeout: 10_000 }).toBeGreaterThan(READ);
  for (let i = 0; i < 4; i++) {
    expect(await readSeq(bob, conv), 'the newest was never on screen').toBeLessThan(N - 20);
    await bob.page.waitForTimeout(500);
  }

  await bob.page.getByTestId('jump-to-latest').click();
  await expect(bubble(bob.page, N), 'jump to latest shows the newest').toBeInViewport({ timeout: 20_000 });
  await expect.poll(() => readSeq(bob, conv), { message: 'and reads it', timeout: 10_000 }).toBe(N);
  await expect(bob.page.getByTestId('jump-to-latest')).toHaveCount(0);
  await snap(testInfo, bob.page, 'bob at the newest');
});

test('a few unread: the newest page opens at the bottom, with the divider above the unread', async ({ actor }) => {
  test.setTimeout(60_000);
  const { alice, bob, conv } = await directPair(actor);
  const run = Date.now().toString(36);
  for (let i = 1; i <= 8; i++) {
    await alice.sendViaApi(conv, `few ${i}`, `e2e-few-${run}-${i}`);
  }
  expect((await bob.request.post(`/api/conversations/${conv}/read`, { data: { seq: 5 } })).status()).toBe(200);
  await bob.openChat();
  await bob.openConversation(conv);
  await expect(bubble(bob.page, 8)).toBeInViewport({ timeout: 20_000 });
  const next = bob.page.getByTestId('unread-divider').locator('xpath=following-sibling::*[@data-testid="message"][1]');
  await expect(next).toHaveAttribute('data-seq', '6');
  await expect.poll(() => readSeq(bob, conv), { timeout: 10_000 }).toBe(8);
  await expect(bob.page.getByTestId('jump-to-latest')).toHaveCount(0);
});
