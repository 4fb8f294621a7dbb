/**
 * The chat UI beyond the core flows: creating a group, sender names in groups, the zh/en switch,
 * Shift+Enter for a new line, phone-width layout, and no console errors or warnings.
 */
import { test, expect } from '../support/fixtures';
import { messageByText, uniqueText, recallViaUi } from '../support/actor';

test('group, lang switch, phone width, no console errors', async ({ actor }) => {
  const alice = await actor('alice');
  const bob = await actor('bob');
  const carol = await actor('carol');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await carol.registerViaApi();
  const errors: string[] = [];
  for (const a of [alice, bob]) a.page.on('console', (m) => { if ((m.type() === 'error' || m.type() === 'warning') && !m.text().includes('integrity')) errors.push(`${a.label}: ${m.text()}`); });
  for (const a of [alice, bob]) a.page.on('pageerror', (e) => errors.push(`${a.label} PAGEERROR: ${e.message}`));
  await alice.openChat();
  await bob.openChat();
  const page = alice.page;
  await page.getByTestId('new-group-button').click();
  await page.getByTestId('group-title-input').fill('Team Rocket');
  await page.locator(`[data-testid="group-member-option"][data-username="${bob.username}"]`).check();
  await page.locator(`[data-testid="group-member-option"][data-username="${carol.username}"]`).check();
  await page.screenshot({ path: '/tmp/e2e/shots/group-form.png' });
  await page.getByTestId('group-create-submit').click();
  await expect(page.getByTestId('message-pane')).toBeVisible();
  const text = uniqueText('hello group');
  await alice.send(text);
  const item = bob.page.locator('[data-testid="conversation-item"][data-title="Team Rocket"]');
  await expect(item).toBeVisible({ timeout: 15000 });
  await expect(item).toHaveAttribute('data-unread', '1');
  await item.click();
  await expect(messageByText(bob.page, text).getByTestId('message-sender')).toContainText('Alice');
  await bob.send('reply from bob\nsecond line');
  await expect(messageByText(page, 'reply from bob\nsecond line')).toHaveCount(1);
  await page.screenshot({ path: '/tmp/e2e/shots/group-alice.png' });
  // recall in English
  await page.getByTestId('lang-switch').click();
  const id = await messageByText(page, text).getAttribute('data-message-id');
  const mine = page.locator(`[data-testid="message"][data-message-id="${id}"]`);
  await recallViaUi(mine);
  await expect(mine.getByTestId('message-content')).toHaveText('Message recalled');
  await expect(messageByText(bob.page, '消息已撤回')).toHaveCount(1);
  await page.screenshot({ path: '/tmp/e2e/shots/english.png' });
  // Shift+Enter newline
  const input = page.getByTestId('composer-input');
  await input.fill('line one');
  await input.press('Shift+Enter');
  await input.type('line two');
  await expect(input).toHaveValue('line one\nline two');
  await input.press('Enter');
  await expect(input).toHaveValue('');
  // phone width
  await bob.page.setViewportSize({ width: 375, height: 740 });
  await bob.page.screenshot({ path: '/tmp/e2e/shots/phone-pane.png' });
  await bob.page.getByRole('button', { name: '返回' }).click();
  await bob.page.screenshot({ path: '/tmp/e2e/shots/phone-list.png' });
  await bob.page.goto('/message-test');
  await bob.page.waitForTimeout(3000);
  await bob.page.screenshot({ path: '/tmp/e2e/shots/phone-mt.png', fullPage: true });
  await page.goto('/login');
  await page.screenshot({ path: '/tmp/e2e/shots/login-redirect.png' });
  expect(errors).toEqual([]);
});
