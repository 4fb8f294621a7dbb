/**
 * Every message is stored before it is shown: after a reload, and after logging out and in
 * again, both sides see the whole conversation in one order (data-seq 1..n).
 */
import { test, expect, snap } from '../support/fixtures';
import { conversationItem, expectHistory, messageByText, messages, uniqueText } from '../support/actor';

test('a 1:1 conversation survives reloads and logging in again, in order', async ({ actor }, testInfo) => {
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await alice.openChat();
  await bob.openChat();

  // Alice finds Bob through the user search and starts the 1:1.
  const conv = await alice.startDirectViaUi(bob);

  const script: { from: 'alice' | 'bob'; text: string }[] = [
    { from: 'alice', text: uniqueText('你好 Bob, 1') },
    { from: 'bob', text: uniqueText('Hi Alice, 2') },
    { from: 'alice', text: uniqueText('第三条 3') },
    { from: 'bob', text: uniqueText('fourth 4') },
    { from: 'alice', text: uniqueText('fifth, last 5') },
  ];

  let bobOpened = false;
  for (const line of script) {
    const sender = line.from === 'alice' ? alice : bob;
    const receiver = line.from === 'alice' ? bob : alice;
    if (line.from === 'bob' && !bobOpened) {
      await bob.openConversation(conv);
      bobOpened = true;
    }
    const mine = await sender.send(line.text);
    await expect(mine).toHaveAttribute('data-mine', 'true');
    await expect(mine).toHaveAttribute('data-status', /^(sent|delivered|read)$/);
    if (receiver === alice || bobOpened) {
      await expect(messageByText(receiver.page, line.text)).toHaveCount(1);
    } else {
      // Bob has not opened the conversation yet: it shows up in his list with a preview.
      await expect(conversationItem(bob.page, conv).getByTestId('conversation-preview')).toContainText(line.text);
    }
  }
  const texts = script.map((l) => l.text);
  await expectHistory(alice.page, texts);
  await expectHistory(bob.page, texts);
  await snap(testInfo, alice.page, 'alice before reload');

  // Both reload.
  for (const who of [alice, bob]) {
    await who.page.reload();
    await expect(who.page.getByTestId('chat-shell')).toBeVisible({ timeout: 20_000 });
    await who.openConversation(conv);
    await expectHistory(who.page, texts);
  }

  // Both log out and log in again (in a fresh page, so nothing survives in memory).
  for (const who of [alice, bob]) {
    await who.logoutViaUi();
    await who.page.close();
    who.page = await who.newPage();
    await who.loginViaUi();
    await who.openConversation(conv);
    await expectHistory(who.page, texts);
    const mine = await messages(who.page).evaluateAll((els) => els.map((e) => e.getAttribute('data-mine')));
    expect(mine).toEqual(script.map((l) => (l.from === who.label ? 'true' : 'false')));
  }
  await snap(testInfo, alice.page, 'alice after logging in again');
  await snap(testInfo, bob.page, 'bob after logging in again');
});
