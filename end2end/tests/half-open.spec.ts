/**
 * A half-open connection (the server process frozen with SIGSTOP): the client notices by heartbeat
 * silence, shows the banner, keeps a message written meanwhile as "sending", and delivers it once
 * the server resumes.
 */
import { test, expect } from '../support/fixtures';
import { messageByText, uniqueText } from '../support/actor';

test('half-open connection is detected by heartbeat silence and resumes', async ({ actor, server }) => {
  test.setTimeout(120_000);
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();
  await alice.openChat();
  const conv = await alice.startDirectViaUi(bob);
  const pid = (server as any).child.pid as number;
  process.kill(pid, 'SIGSTOP');
  const t0 = Date.now();
  await expect(alice.page.getByTestId('conn-state')).not.toHaveAttribute('data-state', 'open', { timeout: 60_000 });
  test.info().annotations.push({ type: 'detected after (ms)', description: String(Date.now() - t0) });
  await expect(alice.page.getByTestId('reconnect-banner')).toBeVisible();
  const text = uniqueText('while frozen');
  const bubble = await alice.send(text);
  await expect(bubble).toHaveAttribute('data-status', 'sending');
  process.kill(pid, 'SIGCONT');
  await expect(alice.page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 60_000 });
  await expect(bubble).toHaveAttribute('data-status', /^(sent|delivered|read)$/, { timeout: 30_000 });
  await bob.openChat();
  await bob.openConversation(conv);
  await expect(messageByText(bob.page, text)).toHaveCount(1);
});
