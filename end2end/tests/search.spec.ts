/**
 * Message search: the box above the conversation list finds messages in the user's own
 * conversations, and a hit opens its conversation at the message, with history loaded around it
 * and the bubble highlighted. Recalled text is never found; nobody finds another pair's messages.
 */
import { test, expect, snap } from '../support/fixtures';
import { messageList, messageById, recallViaUi, directPair } from '../support/actor';
import type { Page } from '@playwright/test';

const N = 150;
const HIT = 10;

const bubble = (page: Page, seq: number) => messageList(page).locator(`[data-testid="message"][data-seq="${seq}"]`);

async function search(page: Page, q: string): Promise<void> {
  const input = page.getByTestId('message-search-input');
  await input.fill(q);
  await expect(page.getByTestId('message-search-results')).toBeVisible();
  await expect(page.getByTestId('message-search-results')).toHaveAttribute('aria-busy', 'false', { timeout: 15_000 });
}

test('a search hit opens its conversation at the message, with history around it', async ({ actor }, testInfo) => {
  test.setTimeout(150_000);
  const { alice, bob, conv } = await directPair(actor);
  const run = Date.now().toString(36);
  const word = `zebra${run}`;
  for (let i = 1; i <= N; i++) {
    const text = i === HIT ? `the ${word} crossed at ${i}` : `filler message ${i}`;
    await alice.sendViaApi(conv, text, `e2e-search-${run}-${i}`);
  }
  await alice.openChat();
  await search(alice.page, word.slice(0, 9).toUpperCase());
  const hits = alice.page.getByTestId('search-result');
  await expect(hits).toHaveCount(1);
  await expect(hits.first()).toHaveAttribute('data-seq', String(HIT));
  await expect(hits.first().locator('mark')).toHaveText(word.slice(0, 9));
  await snap(testInfo, alice.page, 'one hit');

  await hits.first().click();
  await expect(alice.page).toHaveURL(new RegExp(`/c/${conv}\\?m=${HIT}$`));
  const target = bubble(alice.page, HIT);
  await expect(target, 'the hit is on screen').toBeInViewport({ timeout: 20_000 });
  await expect(target).toHaveAttribute('data-highlight', 'true');
  await expect(bubble(alice.page, HIT - 1)).toHaveCount(1);
  await expect(bubble(alice.page, HIT + 1)).toHaveCount(1);
  await expect(bubble(alice.page, N), 'the newest page was not loaded instead').toHaveCount(0);
  await expect(alice.page.getByTestId('jump-to-latest')).toBeVisible();
  await snap(testInfo, alice.page, 'at the hit');
  // The highlight fades.
  await expect(target).not.toHaveAttribute('data-highlight', 'true', { timeout: 10_000 });

  // Scrolling up from there reaches the start of the history.
  await messageList(alice.page).evaluate((el) => {
    el.scrollTop = 0;
    el.dispatchEvent(new Event('scroll'));
  });
  await expect(alice.page.getByTestId('history-start')).toBeVisible({ timeout: 20_000 });
  await expect(bubble(alice.page, 1)).toHaveCount(1);

  // A reload of that URL opens the conversation at the hit again.
  await alice.page.reload();
  await expect(bubble(alice.page, HIT)).toBeInViewport({ timeout: 20_000 });

  // Jump to latest.
  await alice.page.getByTestId('jump-to-latest').click();
  await expect(bubble(alice.page, N)).toBeInViewport({ timeout: 20_000 });

  // Bob (the other member) finds it too; a stranger does not.
  await bob.openChat();
  await search(bob.page, word);
  await expect(bob.page.getByTestId('search-result')).toHaveCount(1);
  const carol = await actor('carol');
  await carol.registerViaApi();
  await carol.openChat();
  await search(carol.page, word);
  await expect(carol.page.getByTestId('search-empty')).toBeVisible();
  await expect(carol.page.getByTestId('search-result')).toHaveCount(0);
  // Escape clears the search and brings the list back.
  await carol.page.getByTestId('message-search-input').press('Escape');
  await expect(carol.page.getByTestId('message-search-results')).toHaveCount(0);
});

test('recalled text is not found, and more hits page in', async ({ actor }) => {
  test.setTimeout(120_000);
  const { alice, bob, conv } = await directPair(actor);
  const run = Date.now().toString(36);
  const secret = `秘密${run}`;
  await alice.openChat();
  await alice.openConversation(conv);
  const mine = await alice.send(`计划是 ${secret} 明天`);
  await search(alice.page, secret);
  await expect(alice.page.getByTestId('search-result')).toHaveCount(1);
  await alice.page.getByTestId('message-search-input').press('Escape');

  const id = await mine.getAttribute('data-message-id');
  await recallViaUi(messageById(alice.page, id!));
  await expect(messageById(alice.page, id!)).toHaveAttribute('data-recalled', 'true');
  await search(alice.page, secret);
  await expect(alice.page.getByTestId('search-empty')).toBeVisible();
  await alice.page.getByTestId('message-search-input').press('Escape');

  // 25 hits: the first page holds 20, "more" brings the other 5, no duplicates.
  const word = `paged${run}`;
  for (let i = 1; i <= 25; i++) {
    await bob.sendViaApi(conv, `${word} number ${i}`, `e2e-search-more-${run}-${i}`);
  }
  await search(alice.page, word);
  const hits = alice.page.getByTestId('search-result');
  await expect(hits).toHaveCount(20);
  await alice.page.getByTestId('search-more').click();
  await expect(hits).toHaveCount(25, { timeout: 15_000 });
  const ids = await hits.evaluateAll((els) => els.map((e) => e.getAttribute('data-message-id')));
  expect(new Set(ids).size).toBe(25);
  await expect(alice.page.getByTestId('search-more')).toHaveCount(0);
});

test('a hit on screen loses its text when the message is recalled after the search', async ({ actor }) => {
  const { alice, bob, conv } = await directPair(actor);
  const run = Date.now().toString(36);
  const secret = `撤回前${run}`;
  await alice.openChat();
  const sent = await bob.sendViaApi(conv, `明天 ${secret} 见`, `e2e-search-recall-${run}`);
  await search(alice.page, secret);
  const hit = alice.page.getByTestId('search-result');
  await expect(hit).toHaveCount(1);
  await expect(hit).toContainText(secret);

  // Bob recalls it while Alice still looks at the hit: the recall reaches the hit too.
  const res = await bob.request.post(`/api/messages/${sent.id}/recall`, { data: {} });
  expect(res.status()).toBe(200);
  await expect(hit).toHaveAttribute('data-recalled', 'true');
  await expect(hit).not.toContainText(secret);
  await expect(hit.getByTestId('search-hit-recalled')).toBeVisible();
});
