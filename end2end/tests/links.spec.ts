/**
 * Links in messages are clickable, and nothing in a message becomes markup: an address is an
 * anchor (new tab, no opener, no referrer), and HTML typed into a message is shown as text.
 */
import { test, expect } from '../support/fixtures';
import { messages, uniqueText, directPair } from '../support/actor';

test('an address in a message is a safe link; markup in a message stays text', async ({ actor }) => {
  const { alice, bob, conv } = await directPair(actor);
  const marker = uniqueText('链接');
  const address = 'https://example.com/docs/a_(b)?q=1&r=2#top';
  const text = `${marker} 看这个${address}。 <b>bold</b> <img src=x onerror="window.__pwned=1"> javascript:alert(1)`;
  await alice.sendViaApi(conv, text, `e2e-links-${Date.now().toString(36)}`);

  await bob.openChat();
  await bob.openConversation(conv);
  const bubble = messages(bob.page).filter({ hasText: marker });
  await expect(bubble).toHaveCount(1, { timeout: 10_000 });
  const content = bubble.getByTestId('message-content');
  const links = content.getByTestId('message-link');
  await expect(links, 'one link: the address, not the javascript: text').toHaveCount(1);
  await expect(links).toHaveAttribute('href', address);
  await expect(links).toHaveText(address);
  await expect(links).toHaveAttribute('target', '_blank');
  await expect(links).toHaveAttribute('rel', /noopener/);
  await expect(links).toHaveAttribute('rel', /noreferrer/);
  // The whole text is shown as written, and none of it became an element.
  await expect(content).toHaveText(text);
  await expect(content.locator('b, img')).toHaveCount(0);
  expect(await bob.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});
