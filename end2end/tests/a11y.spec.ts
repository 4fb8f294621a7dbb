/**
 * Accessibility: axe-core (WCAG 2.1 A/AA and best practices) finds no serious or critical violation
 * on the login and registration pages (also with errors shown), on the chat with a group open
 * (delivered, read, recalled, a link, the unread divider, a message waiting for the network, the
 * message menu and "seen by" open), on a phone-width chat, and on /message-test for an operator.
 * The full axe result of each page is attached to the report.
 */
import { test, expect, snap, type Actor } from '../support/fixtures';
import { operator, messageById, messages, recallViaUi } from '../support/actor';
import { seriousViolations } from '../support/axe';
import type { Page, TestInfo } from '@playwright/test';

async function expectClean(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const serious = await seriousViolations(page, testInfo, name);
  expect(serious, `axe on ${name}: serious or critical violations`).toEqual([]);
}

test('login and register, empty and with errors', async ({ actor }, testInfo) => {
  const visitor = await actor('visitor');
  const page = visitor.page;
  await page.goto('/login');
  await expect(page.getByTestId('login-form')).toBeVisible();
  await expectClean(page, testInfo, 'login');
  await page.getByTestId('login-username').fill('nobody-here');
  await page.getByTestId('login-password').fill('wrong-password-1');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('login-error')).toBeVisible();
  await expectClean(page, testInfo, 'login-error');

  await page.goto('/register');
  await expect(page.getByTestId('register-form')).toBeVisible();
  await expectClean(page, testInfo, 'register');
  await page.getByTestId('register-username').fill('ab');
  await page.getByTestId('register-password').fill('x');
  await page.getByTestId('register-submit').click();
  await expect(page.getByTestId('register-username-error')).toBeVisible();
  await expect(page.getByTestId('register-password-error')).toBeVisible();
  await expectClean(page, testInfo, 'register-error');
});

async function groupOf(alice: Actor, bob: Actor, carol: Actor): Promise<number> {
  const res = await alice.request.post('/api/conversations/group', {
    data: { title: 'Accessible', member_ids: [bob.user!.id, carol.user!.id] },
  });
  expect(res.status()).toBe(201);
  return (await res.json()).id as number;
}

test('chat with a group open: marks, recall, link, divider, waiting message, menu and seen-by', async ({ actor }, testInfo) => {
  test.setTimeout(120_000);
  const alice = await actor('alice');
  const bob = await actor('bob');
  const carol = await actor('carol');
  for (const a of [alice, bob, carol]) await a.registerViaApi();
  const group = await groupOf(alice, bob, carol);
  const run = Date.now().toString(36);
  // Unread for Alice: the divider shows when she opens the group.
  await alice.request.post(`/api/conversations/${group}/read`, { data: { seq: 0 } });
  for (let i = 1; i <= 3; i++) await bob.sendViaApi(group, `from bob ${i} https://example.com/${i}`, `a11y-${run}-${i}`);

  await alice.openChat();
  await alice.openConversation(group);
  await expect(alice.page.getByTestId('unread-divider')).toBeVisible({ timeout: 10_000 });
  await bob.openChat();
  await bob.openConversation(group);
  const read = await alice.send('everyone read this');
  await expect(read).toHaveAttribute('data-status', /delivered|read|sent/, { timeout: 10_000 });
  const gone = await alice.send('recall me');
  await expect(gone).toHaveAttribute('data-message-id', /\d+/, { timeout: 10_000 });
  await recallViaUi(messageById(alice.page, (await gone.getAttribute('data-message-id'))!));
  await expect(messages(alice.page).filter({ hasText: '消息已撤回' })).toHaveCount(1);
  // A message waiting for the network.
  await alice.context.setOffline(true);
  await expect(alice.page.getByTestId('conn-state')).toHaveAttribute('data-state', 'offline', { timeout: 5_000 });
  const input = alice.page.getByTestId('composer-input');
  await input.fill('waiting for the network');
  await input.press('Enter');
  await expect(alice.page.getByTestId('message-waiting')).toBeVisible();
  await expectClean(alice.page, testInfo, 'chat-offline');
  await alice.context.setOffline(false);
  await expect(alice.page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });

  // The menu open, then "seen by" open.
  const bubble = read;
  await bubble.hover();
  await bubble.getByTestId('message-menu-button').click();
  await expect(bubble.getByTestId('receipts-button')).toBeVisible();
  await expectClean(alice.page, testInfo, 'chat-menu');
  await bubble.getByTestId('receipts-button').click();
  await expect(bubble.getByTestId('receipt-row')).toHaveCount(2, { timeout: 10_000 });
  await snap(testInfo, alice.page, 'chat with seen-by open');
  await expectClean(alice.page, testInfo, 'chat-seen-by');

  // The message search with hits.
  await alice.page.getByTestId('message-search-input').fill('bob');
  await expect(alice.page.getByTestId('search-result').first()).toBeVisible({ timeout: 10_000 });
  await expectClean(alice.page, testInfo, 'chat-search');
  await alice.page.getByTestId('message-search-input').press('Escape');

  // Phone width, the list and then the conversation.
  await alice.page.setViewportSize({ width: 390, height: 800 });
  await expectClean(alice.page, testInfo, 'chat-phone-conversation');
  await alice.page.goto('/');
  await expect(alice.page.getByTestId('chat-shell')).toBeVisible();
  await expectClean(alice.page, testInfo, 'chat-phone-list');
});

test('/message-test for an operator, wide and at phone width', async ({ actor, server }, testInfo) => {
  const op = await operator(actor, server);
  await op.page.goto('/message-test');
  await expect(op.page.getByTestId('mt-conn-state')).toBeVisible({ timeout: 20_000 });
  await expectClean(op.page, testInfo, 'message-test');
  await op.page.setViewportSize({ width: 390, height: 800 });
  await expectClean(op.page, testInfo, 'message-test-phone');
});
