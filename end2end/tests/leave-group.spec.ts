/**
 * Leaving a group from the UI: a confirmation first, then the group disappears from every tab
 * of the leaver, and later messages to the group never reach them.
 */
import { test, expect, snap } from '../support/fixtures';
import { conversationItem, uniqueText } from '../support/actor';

test('a member leaves a group; every tab of theirs forgets it', async ({ actor }, testInfo) => {
  const alice = await actor('alice');
  const bob = await actor('bob');
  const carol = await actor('carol');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await carol.registerViaApi();
  const res = await alice.page.request.post('/api/conversations/group', {
    data: { title: 'Leavers club', member_ids: [bob.user!.id, carol.user!.id] },
  });
  expect(res.status()).toBe(201);
  const group = (await res.json()).id as number;
  await alice.openChat();
  const tab1 = await bob.openChat(bob.page);
  const tab2 = await bob.openChat(await bob.newPage());
  for (const tab of [tab1, tab2]) await expect(conversationItem(tab, group)).toBeVisible({ timeout: 15_000 });

  await bob.openConversation(group, tab1);
  await tab1.getByTestId('leave-group').click();
  // Nothing happens before the confirmation; cancelling keeps the group.
  await tab1.getByTestId('leave-group-cancel').click();
  await expect(conversationItem(tab1, group)).toBeVisible();
  await tab1.getByTestId('leave-group').click();
  await snap(testInfo, tab1, 'leave group: confirmation');
  await tab1.getByTestId('leave-group-confirm').click();
  for (const tab of [tab1, tab2]) await expect(conversationItem(tab, group)).toHaveCount(0, { timeout: 15_000 });

  // Alice still writes to the group; it never comes back for Bob.
  await alice.openConversation(group);
  const text = uniqueText('after bob left');
  const bubble = await alice.send(text);
  await expect(bubble).toHaveAttribute('data-status', /^(sent|delivered|read)$/, { timeout: 15_000 });
  // A push would have arrived by now (it follows the commit within milliseconds); give it a moment.
  await tab1.waitForTimeout(500);
  for (const tab of [tab1, tab2]) await expect(conversationItem(tab, group)).toHaveCount(0);
});
