/**
 * Browser-side protections: the app runs under its Content-Security-Policy with no violation,
 * and logging out in one tab ends the session in the other at once (its socket is closed by the
 * server with code 4001, and the tab goes to the login page instead of reconnecting forever).
 */
import { test, expect, snap } from '../support/fixtures';

test('the client runs under the CSP, and logout in one tab logs out the other', async ({ actor }, testInfo) => {
  const alice = await actor('alice');
  await alice.registerViaApi();
  const tab1 = alice.page;
  // Count CSP violations from the very first script on.
  await tab1.addInitScript(() => {
    (window as any).__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => (window as any).__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const res = await tab1.goto('/');
  const csp = res?.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("'wasm-unsafe-eval'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(res?.headers()['x-content-type-options']).toBe('nosniff');
  await expect(tab1.getByTestId('chat-shell')).toBeVisible({ timeout: 20_000 });
  await expect(tab1.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
  const tab2 = await alice.openChat(await alice.newPage());

  await alice.logoutViaUi(tab1);
  // Tab 2 did nothing: the server closed its socket, and it noticed the session is gone.
  await expect(tab2.getByTestId('login-form')).toBeVisible({ timeout: 10_000 });
  await snap(testInfo, tab2, 'tab 2 after logout in tab 1');
  expect(await tab1.evaluate(() => (window as any).__cspViolations)).toEqual([]);
});
