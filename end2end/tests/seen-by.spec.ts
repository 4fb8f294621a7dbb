/**
 * "Seen by" in a group: the sender's menu lists every other member as read, delivered or not
 * delivered, from GET /api/messages/{id}/receipts, and the open list follows changes live.
 */
import { test, expect, snap } from '../support/fixtures';
import { messageById } from '../support/actor';

test('the sender sees per member who read a group message and who has it, live', async ({ actor }, testInfo) => {
  test.setTimeout(90_000);
  const alice = await actor('alice');
  const bob = await actor('bob');
  const carol = await actor('carol');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await carol.registerViaApi();
  const res = await alice.request.post('/api/conversations/group', {
    data: { title: 'Seen by', member_ids: [bob.user!.id, carol.user!.id] },
  });
  expect(res.status()).toBe(201);
  const group = (await res.json()).id as number;

  await alice.openChat();
  await alice.openConversation(group);
  await bob.openChat();
  await bob.openConversation(group);
  const sent = await alice.send('who has seen this?');
  await expect(sent).toHaveAttribute('data-message-id', /\d+/, { timeout: 10_000 });
  const id = await sent.getAttribute('data-message-id');
  // Bob has it on screen: read. Carol has never connected: not delivered.
  await expect(messageById(bob.page, id!)).toBeVisible({ timeout: 10_000 });

  const bubble = messageById(alice.page, id!);
  await bubble.hover();
  await bubble.getByTestId('message-menu-button').click();
  await bubble.getByTestId('receipts-button').click();
  const sheet = bubble.getByTestId('receipts-sheet');
  await expect(sheet).toBeVisible();
  await expect(sheet).toHaveAttribute('role', 'dialog');
  // Keyboard focus moved into the sheet (the menu item that opened it is gone).
  await expect(sheet.getByTestId('receipts-close')).toBeFocused();
  const row = (who: typeof bob) => sheet.locator(`[data-testid="receipt-row"][data-user-id="${who.user!.id}"]`);
  await expect(row(bob)).toHaveAttribute('data-read', 'true', { timeout: 10_000 });
  await expect(row(bob)).toContainText(bob.displayName);
  await expect(row(bob)).toContainText('已读');
  await expect(row(carol)).toHaveAttribute('data-delivered', 'false');
  await expect(row(carol)).toContainText('未送达');
  await expect(sheet.getByTestId('receipts-summary')).toContainText('1/2');
  await snap(testInfo, alice.page, 'seen by: bob read, carol not delivered');

  // Carol connects (and does not open the group): her row turns delivered without reopening.
  await carol.openChat();
  await expect(row(carol)).toHaveAttribute('data-delivered', 'true', { timeout: 15_000 });
  await expect(row(carol)).toHaveAttribute('data-read', 'false');
  await expect(row(carol)).toContainText('已送达');
  await snap(testInfo, alice.page, 'seen by: carol delivered');

  // The sheet was shown again when the bubble re-rendered on the status change: focus is still
  // in it. Escape closes it and returns focus to the menu button.
  await expect(sheet.getByTestId('receipts-close')).toBeFocused();
  await alice.page.keyboard.press('Escape');
  await expect(sheet).toHaveCount(0);
  await expect(bubble.getByTestId('message-menu-button')).toBeFocused();
  // Not offered in a direct conversation, nor on someone else's message.
  await expect(messageById(bob.page, id!).getByTestId('message-menu-button')).toHaveCount(0);
});
