/**
 * A large offline backlog: the unread badge counts it all, the client keeps a bounded number of
 * messages in memory, and paging back to seq 1 and forward again has no gaps and no jumps.
 */
import { test, expect } from '../support/fixtures';
import { conversationItem, messageList, messages, range, seqsOnPage } from '../support/actor';

const N = Number(process.env.BIG_N ?? 1200);
test('big offline backlog: unread, bounded memory, paging back and forward', async ({ actor }) => {
  test.setTimeout(400_000);
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await bob.logoutViaApi();
  const conv = (await alice.startDirectViaApi(bob)).id;
  const run = Date.now().toString(36);
  const batch = 20;
  for (let i = 1; i <= N; i += batch) {
    await Promise.all(range(i, Math.min(N, i + batch - 1)).map((k) => alice.sendViaApi(conv, `big ${k}`, `big-${run}-${k}`)));
  }
  await bob.loginViaUi();
  const item = conversationItem(bob.page, conv);
  await expect(item).toHaveAttribute('data-unread', String(N), { timeout: 60_000 });
  await bob.openConversation(conv);
  const page = bob.page;
  // Everything is unread: he lands at the first unread message, under the divider; the newest
  // is one click away.
  await expect(page.locator('[data-testid="message"][data-seq="1"]')).toBeInViewport({ timeout: 30_000 });
  await expect(page.getByTestId('unread-divider')).toHaveCount(1);
  await page.getByTestId('jump-to-latest').click();
  await expect(messages(page).last()).toHaveAttribute('data-seq', String(N), { timeout: 30_000 });
  await expect(item).toHaveAttribute('data-unread', '0', { timeout: 20_000 });
  let rounds = 0;
  while ((await page.getByTestId('history-start').count()) === 0) {
    rounds++;
    expect(rounds).toBeLessThan(100);
    const first = (await seqsOnPage(page))[0];
    await messageList(page).evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
    await expect.poll(async () => (await page.getByTestId('history-start').count()) > 0 || (await seqsOnPage(page))[0] < first, { timeout: 20_000 }).toBe(true);
    const seqs = await seqsOnPage(page);
    expect(seqs.length).toBeLessThanOrEqual(500);
    expect(seqs).toEqual(range(seqs[0], seqs[seqs.length - 1]));
  }
  const seqs = await seqsOnPage(page);
  expect(seqs).toEqual(range(1, Math.min(500, N)));
  await page.screenshot({ path: '/tmp/e2e/shots/big-start.png' });
  // Scroll down: newer pages load in place until the live end.
  let r2 = 0;
  while ((await seqsOnPage(page)).slice(-1)[0] < N) {
    r2++;
    expect(r2).toBeLessThan(100);
    const last = (await seqsOnPage(page)).slice(-1)[0];
    await messageList(page).evaluate((el) => { el.scrollTop = el.scrollHeight; el.dispatchEvent(new Event('scroll')); });
    await expect.poll(async () => (await seqsOnPage(page)).slice(-1)[0] > last, { timeout: 20_000 }).toBe(true);
    const s2 = await seqsOnPage(page);
    expect(s2).toEqual(range(s2[0], s2[s2.length - 1]));
    // The view stayed with what was read: the previous last message is still on screen.
    const visible = await page.locator(`[data-testid="message"][data-seq="${last}"]`).isVisible();
    expect(visible).toBe(true);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const inView = await messageList(page).evaluate((el, seq) => {
      const m = el.querySelector(`[data-seq="${seq}"]`) as HTMLElement;
      const r = m.getBoundingClientRect(), lr = el.getBoundingClientRect();
      return r.bottom > lr.top && r.top < lr.bottom;
    }, last);
    expect(inView, `seq ${last} still in view after loading newer`).toBe(true);
  }
  await page.screenshot({ path: '/tmp/e2e/shots/big-forward.png' });
  // Back to the live end.
  if (await page.getByRole('button', { name: '回到最新' }).count()) await page.getByRole('button', { name: '回到最新' }).click();
  await expect(messages(page).last()).toHaveAttribute('data-seq', String(N), { timeout: 20_000 });
  const after = await seqsOnPage(page);
  expect(after).toEqual(range(after[0], N));
});
