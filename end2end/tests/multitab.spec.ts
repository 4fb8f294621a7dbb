/**
 * One user, two tabs: both tabs receive the messages, and reading in one clears the unread badge
 * in the other (unread counts are derived from the read position, which every tab is told about).
 */
import { test, expect, snap } from '../support/fixtures';
import { conversationItem, expectHistory, messageByText, uniqueText } from '../support/actor';

test('two tabs of the same user stay in agreement', async ({ actor }, testInfo) => {
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await alice.openChat();
  const tab1 = await bob.openChat(bob.page);
  const tab2 = await bob.openChat(await bob.newPage());

  const conv = await alice.startDirectViaUi(bob);
  const texts = [1, 2, 3].map((i) => uniqueText(`多标签 ${i}`));
  for (const t of texts) await alice.send(t);

  // Both tabs got them: the conversation shows 3 unread and the last preview in each tab.
  for (const tab of [tab1, tab2]) {
    const item = conversationItem(tab, conv);
    await expect(item).toBeVisible({ timeout: 20_000 });
    await expect(item).toHaveAttribute('data-unread', '3');
    await expect(item.getByTestId('unread-badge')).toHaveText('3');
    await expect(item.getByTestId('conversation-preview')).toContainText(texts[2]);
  }
  await snap(testInfo, tab2, 'bob tab 2: 3 unread');

  // Reading in tab 1 clears the badge in tab 2.
  await bob.openConversation(conv, tab1);
  await expectHistory(tab1, texts);
  const item2 = conversationItem(tab2, conv);
  await expect(item2).toHaveAttribute('data-unread', '0', { timeout: 20_000 });
  await expect(item2.getByTestId('unread-badge')).toHaveCount(0);
  await expect(conversationItem(tab1, conv).getByTestId('unread-badge')).toHaveCount(0);
  await snap(testInfo, tab2, 'bob tab 2: badge cleared by tab 1');

  // A new message while tab 1 has the conversation open: both tabs get it, tab 1 reads it.
  const more = uniqueText('多标签 4');
  await alice.send(more);
  await expect(messageByText(tab1, more)).toHaveCount(1);
  await expect(item2.getByTestId('conversation-preview')).toContainText(more);
  await expect(item2).toHaveAttribute('data-unread', '0', { timeout: 20_000 });

  // Tab 2 opens the conversation: the whole history, each message once.
  await bob.openConversation(conv, tab2);
  await expectHistory(tab2, [...texts, more]);
  for (const t of [...texts, more]) {
    await expect(messageByText(alice.page, t)).toHaveAttribute('data-status', 'read', { timeout: 20_000 });
  }
  await snap(testInfo, tab1, 'bob tab 1');
  await snap(testInfo, tab2, 'bob tab 2');
});
