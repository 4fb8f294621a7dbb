/**
 * Recall: shown as "消息已撤回" to every party at once when online, and replayed to a device that
 * was offline so that it never shows the original content after syncing.
 */
import { test, expect, snap } from '../support/fixtures';
import { RECALLED_ZH, messageById, messageByText, messages, uniqueText, recallViaUi } from '../support/actor';
import type { Locator, Page } from '@playwright/test';

async function recall(_page: Page, bubble: Locator): Promise<void> {
  await recallViaUi(bubble);
}

/** Records whether any of `secrets` ever appears in the DOM of the page (from its first paint). */
function watchForSecrets(secrets: string[]) {
  const w = window as unknown as { __seenSecrets: string[] };
  w.__seenSecrets = [];
  const check = (text: string | null | undefined) => {
    if (!text) return;
    for (const s of secrets) if (text.includes(s) && !w.__seenSecrets.includes(s)) w.__seenSecrets.push(s);
  };
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'characterData') check((m.target as CharacterData).data);
      m.addedNodes.forEach((n) => check(n.textContent));
    }
  });
  observer.observe(document.documentElement ?? document, { subtree: true, childList: true, characterData: true });
}

test('recall while the other side is online and while it is offline', async ({ actor }, testInfo) => {
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await alice.openChat();
  await bob.openChat();

  const conv = await alice.startDirectViaUi(bob);
  const hello = uniqueText('hello');
  await alice.send(hello);
  await bob.openConversation(conv);
  await expect(messageByText(bob.page, hello)).toHaveCount(1);

  // 1. Recall while Bob is online and looking at the conversation.
  const secret1 = uniqueText('secret one 秘密');
  const a1 = await alice.send(secret1);
  await expect(a1).toHaveAttribute('data-message-id', /^\d+$/);
  const id1 = (await a1.getAttribute('data-message-id'))!;
  const b1 = messageById(bob.page, id1);
  await expect(b1.getByTestId('message-content')).toHaveText(secret1);
  await recall(alice.page, a1);

  await expect(b1).toHaveAttribute('data-recalled', 'true', { timeout: 10_000 });
  await expect(b1.getByTestId('message-content')).toHaveText(RECALLED_ZH);
  await expect(bob.page.getByText(secret1)).toHaveCount(0);
  const a1ById = messageById(alice.page, id1);
  await expect(a1ById).toHaveAttribute('data-recalled', 'true');
  await expect(a1ById.getByTestId('message-content')).toHaveText(RECALLED_ZH);
  await snap(testInfo, bob.page, 'bob: recalled while online');

  // 2. Bob sees secret2, then logs out; Alice recalls it, and sends and recalls secret3.
  const secret2 = uniqueText('secret two 秘密');
  const a2 = await alice.send(secret2);
  await expect(a2).toHaveAttribute('data-message-id', /^\d+$/);
  const id2 = (await a2.getAttribute('data-message-id'))!;
  await expect(messageById(bob.page, id2).getByTestId('message-content')).toHaveText(secret2);

  await bob.logoutViaUi();
  await bob.page.close();

  await recall(alice.page, a2);
  await expect(messageById(alice.page, id2)).toHaveAttribute('data-recalled', 'true');
  const secret3 = uniqueText('secret three 秘密');
  const a3 = await alice.send(secret3);
  await expect(a3).toHaveAttribute('data-message-id', /^\d+$/);
  const id3 = (await a3.getAttribute('data-message-id'))!;
  await recall(alice.page, a3);
  await expect(messageById(alice.page, id3)).toHaveAttribute('data-recalled', 'true');
  const after = uniqueText('still here');
  await alice.send(after);
  await snap(testInfo, alice.page, 'alice: after recalls');

  // Bob logs in on a fresh page that watches the DOM for the recalled texts from the first paint.
  await bob.context.addInitScript(watchForSecrets, [secret2, secret3]);
  bob.page = await bob.newPage();
  await bob.loginViaUi();
  await bob.openConversation(conv);
  await expect(messageByText(bob.page, after)).toHaveCount(1, { timeout: 20_000 });
  for (const id of [id1, id2, id3]) {
    const bubble = messageById(bob.page, id);
    await expect(bubble).toHaveAttribute('data-recalled', 'true');
    await expect(bubble.getByTestId('message-content')).toHaveText(RECALLED_ZH);
  }
  // The originals are nowhere on the page, and never were.
  for (const s of [secret1, secret2, secret3]) {
    await expect(bob.page.getByText(s)).toHaveCount(0);
    expect(await bob.page.content(), `page HTML contains "${s}"`).not.toContain(s);
  }
  const seen = await bob.page.evaluate(() => (window as unknown as { __seenSecrets: string[] }).__seenSecrets);
  expect(seen, 'recalled texts that appeared in the DOM at any time after logging in').toEqual([]);
  await expect(messages(bob.page)).toHaveCount(5);
  await snap(testInfo, bob.page, 'bob: after logging in again');
});
