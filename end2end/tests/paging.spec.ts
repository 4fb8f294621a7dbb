/**
 * Stable paging: a conversation with a few hundred messages is shown newest page first; scrolling
 * the message list to the top repeatedly loads older pages until history-start, and the result is
 * every seq from 1 to N exactly once, in order.
 *
 * The messages are created by Alice through the HTTP API. Alice then opens the conversation in a
 * fresh page: she has nothing of it in memory (a sender gets no offline replay of her own messages),
 * so her client must page back through GET /api/conversations/{id}/messages?before=…
 * Bob, the recipient, was offline; his client receives all N in the offline replay on connect.
 * His view must end up the same: 1..N, no gaps, no duplicates.
 */
import { test, expect, snap } from '../support/fixtures';
import { messageList, messages, range, seqsOnPage, textsOnPage } from '../support/actor';
import type { Page, TestInfo } from '@playwright/test';

const N = Number(process.env.E2E_PAGING_MESSAGES ?? 260);
const contentOf = (i: number) => `paging ${i} of ${N}`;

/** Scrolls the message list (and whatever scrollable box holds it) to the top, like a user would. */
async function scrollToTop(page: Page): Promise<void> {
  const list = messageList(page);
  await list.evaluate((el) => {
    let node: HTMLElement | null = el as HTMLElement;
    while (node) {
      const style = getComputedStyle(node);
      if (node.scrollHeight > node.clientHeight && /(auto|scroll)/.test(style.overflowY)) {
        node.scrollTop = 0;
        node.dispatchEvent(new Event('scroll'));
      }
      node = node.parentElement;
    }
    (el as HTMLElement).scrollTop = 0;
    el.dispatchEvent(new Event('scroll'));
  });
  const box = await list.boundingBox();
  if (box) {
    await page.mouse.move(box.x + box.width / 2, box.y + Math.min(box.height / 2, 100));
    await page.mouse.wheel(0, -5000);
  }
}

/** Scrolls to the top until history-start shows; returns how many scroll rounds loaded something. */
async function pageBackToStart(page: Page, who: string): Promise<number> {
  const all = messages(page);
  let rounds = 0;
  while ((await page.getByTestId('history-start').count()) === 0) {
    rounds += 1;
    expect(rounds, `${who}: history-start reached within ${N} rounds`).toBeLessThanOrEqual(N);
    const before = await all.count();
    await scrollToTop(page);
    await expect
      .poll(
        async () => (await page.getByTestId('history-start').count()) > 0 || (await all.count()) > before,
        { message: `${who}: older messages load after scrolling to the top (round ${rounds}, ${before} shown)`, timeout: 20_000 },
      )
      .toBe(true);
    await expect(page.getByTestId('history-loading')).toHaveCount(0, { timeout: 20_000 });
  }
  await scrollToTop(page);
  await expect(page.getByTestId('history-start')).toBeVisible();
  return rounds;
}

async function expectWholeHistory(page: Page, who: string, testInfo: TestInfo): Promise<void> {
  const all = messages(page);
  const seqs = await seqsOnPage(page);
  expect(new Set(seqs).size, `${who}: no duplicate seqs`).toBe(seqs.length);
  expect(seqs, `${who}: seqs 1..${N} contiguous`).toEqual(range(1, N));
  const ids = await all.evaluateAll((els) => els.map((e) => e.getAttribute('data-message-id')));
  expect(new Set(ids).size, `${who}: no duplicate message ids`).toBe(N);
  expect(await textsOnPage(page), `${who}: contents in seq order`).toEqual(range(1, N).map(contentOf));
  await expect(all.first()).toHaveAttribute('data-seq', '1');
  await snap(testInfo, page, `${who}: history start`);
}

test(`paging back through ${N} messages reaches seq 1 with no gaps or duplicates`, async ({ actor }, testInfo) => {
  test.setTimeout(240_000);
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();

  // Create the history quickly through the HTTP API (idempotent per client_msg_id; 429s are retried).
  const conv = (await alice.startDirectViaApi(bob)).id;
  const runId = Date.now().toString(36);
  for (let i = 1; i <= N; i++) {
    const m = await alice.sendViaApi(conv, contentOf(i), `e2e-paging-${runId}-${i}`);
    expect(m.seq, `seq of message ${i}`).toBe(i);
  }

  // Alice: a fresh page has only the newest page, older pages come by scrolling up.
  await alice.openChat();
  await alice.openConversation(conv);
  const page = alice.page;
  const all = messages(page);
  await expect(all.last()).toHaveAttribute('data-seq', String(N), { timeout: 20_000 });
  const firstPage = await all.count();
  expect(firstPage, 'the first page shown is not the whole history').toBeLessThan(N);
  await expect(page.getByTestId('history-start')).toHaveCount(0);
  await snap(testInfo, page, 'alice: newest page');
  const rounds = await pageBackToStart(page, 'alice');
  testInfo.annotations.push({ type: 'paging', description: `alice: first page ${firstPage} messages, ${rounds} scroll rounds` });
  await expectWholeHistory(page, 'alice', testInfo);

  // Bob: whatever came by offline replay and whatever by paging, the same 1..N.
  await bob.openChat();
  await bob.openConversation(conv);
  // All N are unread for him: he lands at the first (unread-divider.spec.ts); the newest is one
  // click away, and from there he pages back.
  await expect(messages(bob.page).first()).toHaveAttribute('data-seq', '1', { timeout: 30_000 });
  await bob.page.getByTestId('jump-to-latest').click();
  await expect(messages(bob.page).last()).toHaveAttribute('data-seq', String(N), { timeout: 30_000 });
  const bobFirst = await messages(bob.page).count();
  const bobRounds = await pageBackToStart(bob.page, 'bob');
  testInfo.annotations.push({ type: 'paging', description: `bob: first view ${bobFirst} messages, ${bobRounds} scroll rounds` });
  await expectWholeHistory(bob.page, 'bob', testInfo);
});
