/**
 * Each conversation has its own URL: opening one from the list goes to /c/{id}, a reload keeps
 * it open, a link opens it, and on a phone the system Back returns to the list instead of
 * leaving the app — also when the app was opened at /c/{id} directly.
 */
import { test, expect } from '../support/fixtures';
import { conversationItem, directPair } from '../support/actor';

test('a conversation has its own URL that survives a reload and opens from a link', async ({ actor }) => {
  const { alice, bob, conv } = await directPair(actor);
  await alice.openChat();
  await alice.openConversation(conv);
  const page = alice.page;
  await expect(page).toHaveURL(new RegExp(`/c/${conv}$`));

  await page.reload();
  await expect(page.getByTestId('message-pane')).toHaveAttribute('data-conversation-id', String(conv), { timeout: 20_000 });

  const link = await alice.newPage();
  await link.goto(`/c/${conv}`);
  await expect(link.getByTestId('message-pane')).toHaveAttribute('data-conversation-id', String(conv), { timeout: 20_000 });
});

test('on a phone, Back returns to the list, also after opening a link to a conversation', async ({ actor }) => {
  const { alice, bob, conv } = await directPair(actor);
  const page = alice.page;
  await page.setViewportSize({ width: 390, height: 844 });
  await alice.openChat();
  await conversationItem(page, conv).click();
  await expect(page.getByTestId('message-pane')).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`/c/${conv}$`));
  await page.goBack();
  await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/$/);
  await expect(page.getByTestId('conversation-list')).toBeVisible();
  await expect(page.getByTestId('message-pane')).toHaveCount(0);

  // Opened by a link: Back still lands on the list, in the app.
  const linked = await alice.newPage();
  await linked.setViewportSize({ width: 390, height: 844 });
  await linked.goto(`/c/${conv}`);
  await expect(linked.getByTestId('message-pane')).toBeVisible({ timeout: 20_000 });
  await linked.goBack();
  await expect(linked).toHaveURL(/127\.0\.0\.1:\d+\/$/);
  await expect(linked.getByTestId('conversation-list')).toBeVisible();
});

test('a link to a conversation that is not mine lands on the list, saying why', async ({ actor }) => {
  const alice = await actor('alice');
  const bob = await actor('bob');
  const carol = await actor('carol');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await carol.registerViaApi();
  const theirs = (await alice.startDirectViaApi(bob)).id;
  await carol.openChat();
  await carol.page.goto(`/c/${theirs}`);
  await expect(carol.page.getByTestId('notice')).toContainText('这个会话不存在', { timeout: 20_000 });
  await expect(carol.page).toHaveURL(/127\.0\.0\.1:\d+\/$/);
  await expect(carol.page.getByTestId('message-pane')).toHaveCount(0);
});
