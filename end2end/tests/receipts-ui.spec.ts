/**
 * Delivered and read are clearly different at a glance and to a screen reader: each mark is a
 * labelled image ("已送达" / "已读"), the two have different shapes (bare ticks / ticks on a filled
 * disc) at full opacity, and the newest status is announced through a polite live region.
 */
import { test, expect, snap } from '../support/fixtures';
import { uniqueText, directPair } from '../support/actor';

test('delivered and read differ in shape, are labelled images, and are announced', async ({ actor }, testInfo) => {
  const { alice, bob, conv } = await directPair(actor);
  await alice.openChat();
  await alice.openConversation(conv);
  const page = alice.page;

  const text = uniqueText('回执');
  const bubble = await alice.send(text);
  await expect(bubble).toHaveAttribute('data-status', 'sent');
  const mark = bubble.getByTestId('message-status');
  await expect(bubble.getByRole('img', { name: '已发送' })).toHaveCount(1);

  // Bob comes online (not opening the conversation): delivered.
  await bob.openChat();
  await expect(bubble).toHaveAttribute('data-status', 'delivered', { timeout: 10_000 });
  await expect(bubble.getByRole('img', { name: '已送达' })).toHaveCount(1);
  await expect(mark).toHaveAttribute('data-shape', 'ticks');
  const meta = bubble.locator('.message-meta');
  expect(await meta.evaluate((el) => getComputedStyle(el).opacity), 'meta at full opacity').toBe('1');
  const deliveredBg = await mark.evaluate((el) => getComputedStyle(el).backgroundColor);
  await expect(page.getByTestId('status-announcer')).toHaveText('已送达');
  await snap(testInfo, page, 'delivered');

  // Bob opens it: read, a different shape.
  await bob.openConversation(conv);
  await expect(bubble).toHaveAttribute('data-status', 'read', { timeout: 10_000 });
  await expect(bubble.getByRole('img', { name: '已读' })).toHaveCount(1);
  await expect(mark).toHaveAttribute('data-shape', 'ticks-filled');
  const readBg = await mark.evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(deliveredBg, 'delivered: bare ticks').toBe('rgba(0, 0, 0, 0)');
  expect(readBg, 'read: ticks on a filled disc').not.toBe('rgba(0, 0, 0, 0)');
  await expect(page.getByTestId('status-announcer')).toHaveText('已读');
  await expect(page.getByTestId('status-announcer')).toHaveAttribute('aria-live', 'polite');
  await snap(testInfo, page, 'read');
});
