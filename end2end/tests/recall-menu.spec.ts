/**
 * Recall is a menu action with a confirmation, taking no layout space: my bubbles are as tall as
 * anyone's, the recall item only appears in the bubble's menu, cancelling keeps the message,
 * confirming recalls it — and once the recall window has passed there is no menu at all.
 */
import { test, expect } from '../support/fixtures';
import { messageById, messageByText, uniqueText, directPair } from '../support/actor';

test('recall sits in a menu with a confirmation and takes no layout space', async ({ actor }) => {
  const { alice, bob, conv } = await directPair(actor);
  const theirs = uniqueText('对方');
  await bob.sendViaApi(conv, theirs, `e2e-menu-${Date.now().toString(36)}`);
  await alice.openChat();
  await alice.openConversation(conv);
  const page = alice.page;
  const incoming = messageByText(page, theirs);
  await expect(incoming).toHaveCount(1, { timeout: 10_000 });
  const text = uniqueText('我的');
  const sent = await alice.send(text);
  await expect(sent).toHaveAttribute('data-status', /^(sent|delivered|read)$/);
  // By id: the text changes when it is recalled.
  const mine = messageById(page, (await sent.getAttribute('data-message-id'))!);

  // Same height as an incoming single-line message: no row of actions under it.
  const h = async (l: typeof mine) => (await l.boundingBox())!.height;
  expect(Math.abs((await h(mine)) - (await h(incoming))), 'own and incoming rows equally tall').toBeLessThanOrEqual(2);
  await expect(mine.getByTestId('recall-button')).toHaveCount(0);

  // The menu offers it; cancelling keeps the message.
  await mine.hover();
  await mine.getByTestId('message-menu-button').click();
  await mine.getByTestId('recall-button').click();
  await expect(mine.getByTestId('recall-confirm')).toBeVisible();
  await mine.getByTestId('recall-cancel').click();
  await expect(mine.getByTestId('message-menu')).toHaveCount(0);
  await expect(mine.getByTestId('message-content')).toHaveText(text);
  await expect(mine).toHaveAttribute('data-recalled', 'false');

  // Confirming recalls it.
  await mine.hover();
  await mine.getByTestId('message-menu-button').click();
  await mine.getByTestId('recall-button').click();
  await mine.getByTestId('recall-confirm').click();
  await expect(mine).toHaveAttribute('data-recalled', 'true', { timeout: 10_000 });
  await expect(mine.getByTestId('message-menu-button')).toHaveCount(0);
});

test('once the recall window has passed the menu is gone', async ({ actor }) => {
  const { alice, bob, conv } = await directPair(actor);
  await alice.page.clock.install();
  await alice.openChat();
  await alice.openConversation(conv);
  const mine = await alice.send(uniqueText('过期'));
  await expect(mine).toHaveAttribute('data-status', /^(sent|delivered|read)$/);
  await mine.hover();
  await expect(mine.getByTestId('message-menu-button')).toBeVisible();
  // The default recall window is 2 minutes.
  await alice.page.clock.fastForward('02:05');
  await expect(mine.getByTestId('message-menu-button')).toHaveCount(0, { timeout: 5_000 });
});
