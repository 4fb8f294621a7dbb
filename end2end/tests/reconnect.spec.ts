/**
 * Lossless resume: the server is killed while both users are connected and started again on the
 * same database and port. The reconnect banner appears and clears; a message composed during the
 * outage stays "sending" and is sent after reconnecting; everything arrives exactly once.
 */
import { test, expect, snap } from '../support/fixtures';
import { conversationItem, messageByText, messages, range, seqsOnPage, uniqueText, type Actor } from '../support/actor';

test('server restart: banner, resend after reconnect, every message exactly once', async ({ actor, server }, testInfo) => {
  test.setTimeout(180_000);
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await alice.openChat();
  await bob.openChat();

  const conv = await alice.startDirectViaUi(bob);
  const before = uniqueText('before the outage');
  await alice.send(before);
  await bob.openConversation(conv);
  await expect(messageByText(bob.page, before)).toHaveCount(1);
  for (const who of [alice, bob]) {
    await expect(who.page.getByTestId('reconnect-banner')).toHaveCount(0);
  }

  // Crash the server.
  await server.stop('SIGKILL');
  for (const who of [alice, bob]) {
    await expect(who.page.getByTestId('reconnect-banner')).toBeVisible({ timeout: 20_000 });
    await expect(who.page.getByTestId('conn-state')).not.toHaveAttribute('data-state', 'open');
  }
  await snap(testInfo, alice.page, 'alice: server down');

  // Alice writes while disconnected: the message waits as "sending".
  const during = uniqueText('written during the outage');
  const duringBubble = await alice.send(during);
  await expect(duringBubble).toHaveAttribute('data-status', 'sending');
  await expect(duringBubble).toHaveAttribute('data-mine', 'true');
  await snap(testInfo, alice.page, 'alice: sending while disconnected');

  // Same database, same port.
  await server.start();
  for (const who of [alice, bob]) {
    await expect(who.page.getByTestId('reconnect-banner')).toHaveCount(0, { timeout: 60_000 });
    await expect(who.page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 60_000 });
  }
  await expect(duringBubble).toHaveAttribute('data-status', /^(sent|delivered|read)$/, { timeout: 30_000 });
  await expect(messageByText(bob.page, during)).toHaveCount(1, { timeout: 30_000 });

  // After the outage, both directions still work.
  const afterA = uniqueText('after the outage from alice');
  await alice.send(afterA);
  await expect(messageByText(bob.page, afterA)).toHaveCount(1);
  const afterB = uniqueText('after the outage from bob');
  await bob.send(afterB);
  await expect(messageByText(alice.page, afterB)).toHaveCount(1);

  const texts = [before, during, afterA, afterB];
  const checkExactlyOnce = async (who: Actor) => {
    for (const text of texts) {
      await expect(messageByText(who.page, text), `${who.label}: "${text}" shown exactly once`).toHaveCount(1);
    }
    await expect(messages(who.page)).toHaveCount(texts.length);
    await expect.poll(() => seqsOnPage(who.page), { message: `${who.label}: seqs 1..n, no duplicates` }).toEqual(range(1, texts.length));
  };
  await checkExactlyOnce(alice);
  await checkExactlyOnce(bob);
  // The server stored each exactly once, too.
  const history = await alice.request.get(`/api/conversations/${conv}/messages?limit=200`);
  expect(history.status()).toBe(200);
  const stored = ((await history.json()).messages as { content: string | null }[]).map((m) => m.content);
  expect(stored).toEqual(texts);
  await snap(testInfo, alice.page, 'alice: after reconnect');
  await snap(testInfo, bob.page, 'bob: after reconnect');

  // And after a reload nothing is duplicated or missing.
  for (const who of [alice, bob]) {
    await who.page.reload();
    await expect(who.page.getByTestId('chat-shell')).toBeVisible({ timeout: 20_000 });
    await expect(conversationItem(who.page, conv)).toBeVisible();
    await who.openConversation(conv);
    await checkExactlyOnce(who);
  }
});
