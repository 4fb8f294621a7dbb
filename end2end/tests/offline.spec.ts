/**
 * Offline delivery: Bob is logged out while Alice writes. Alice's messages stay "sent"; when Bob
 * logs in he gets all of them in order with an unread badge, Alice's marks turn "delivered" live,
 * and "read" once Bob opens the conversation.
 */
import { test, expect, snap } from '../support/fixtures';
import { conversationItem, expectHistory, messageByText, messages, uniqueText } from '../support/actor';

test('messages sent while the recipient is logged out arrive in order when they log in', async ({ actor }, testInfo) => {
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await bob.logoutViaApi(); // Bob has never opened the app and holds no session now.

  await alice.openChat();
  const conv = await alice.startDirectViaUi(bob);

  const texts = [1, 2, 3, 4].map((i) => uniqueText(`离线消息 ${i}`));
  for (const text of texts) {
    const bubble = await alice.send(text);
    await expect(bubble).toHaveAttribute('data-status', 'sent');
  }
  // Nobody received them: all four stay "sent" (not "delivered").
  const aliceMarks = messages(alice.page).filter({ has: alice.page.locator('[data-testid="message-status"]') });
  await expect(aliceMarks).toHaveCount(4);
  for (const text of texts) {
    await expect(messageByText(alice.page, text)).toHaveAttribute('data-status', 'sent');
  }
  await snap(testInfo, alice.page, 'alice: sent, recipient offline');

  // Bob logs in: the conversation is in his list with 4 unread.
  await bob.loginViaUi();
  const item = conversationItem(bob.page, conv);
  await expect(item).toBeVisible({ timeout: 20_000 });
  await expect(item).toHaveAttribute('data-unread', '4', { timeout: 20_000 });
  await expect(item.getByTestId('unread-badge')).toHaveText('4');
  await expect(item.getByTestId('conversation-preview')).toContainText(texts[3]);
  await snap(testInfo, bob.page, 'bob: unread badge after login');

  // Alice's marks turn "delivered" without a reload (Bob's device acknowledged them)…
  for (const text of texts) {
    await expect(messageByText(alice.page, text)).toHaveAttribute('data-status', 'delivered', { timeout: 20_000 });
  }
  await snap(testInfo, alice.page, 'alice: delivered');

  // …and "read" once Bob opens the conversation, where all four are, in order.
  await bob.openConversation(conv);
  await expectHistory(bob.page, texts);
  const mine = await messages(bob.page).evaluateAll((els) => els.map((e) => e.getAttribute('data-mine')));
  expect(mine).toEqual(['false', 'false', 'false', 'false']);
  await expect(item).toHaveAttribute('data-unread', '0', { timeout: 20_000 });
  await expect(item.getByTestId('unread-badge')).toHaveCount(0);
  for (const text of texts) {
    await expect(messageByText(alice.page, text)).toHaveAttribute('data-status', 'read', { timeout: 20_000 });
  }
  await snap(testInfo, alice.page, 'alice: read');
  await snap(testInfo, bob.page, 'bob: conversation open');
});
