/**
 * Issue 1: accounts. Register through the UI, land in the chat shell, log out, log in, reload,
 * error messages for a wrong password and a taken username, and deep links into the SPA.
 */
import { test, expect, snap } from '../support/fixtures';
import { operator } from '../support/actor';

test.describe('auth', () => {
  test('register via the UI, log out, log in, reload: still logged in', async ({ actor }, testInfo) => {
    const alice = await actor('alice');
    const page = alice.page;

    // Logged out, `/` sends you to the login page; the login page links to registration.
    await page.goto('/');
    await expect(page.getByTestId('login-form')).toBeVisible({ timeout: 20_000 });
    await expect(page).toHaveURL(/\/login$/);
    await page.getByTestId('go-register').click();
    await expect(page.getByTestId('register-form')).toBeVisible();
    await expect(page).toHaveURL(/\/register$/);

    await alice.registerViaUi(page);
    await expect(page.getByTestId('current-user')).toContainText(alice.displayName);
    await expect(page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
    // (empty for a new user, so it has no size: attached, not necessarily visible)
    await expect(page.getByTestId('conversation-list')).toBeAttached();
    await snap(testInfo, page, 'chat shell after registration');

    // Log out: back to the login page, and `/` stays closed.
    await alice.logoutViaUi(page);
    await expect(page.getByTestId('chat-shell')).toHaveCount(0);
    const me = await alice.request.get('/api/auth/me');
    expect(me.status(), 'GET /api/auth/me after logout').toBe(401);
    await page.goto('/');
    await expect(page.getByTestId('login-form')).toBeVisible({ timeout: 20_000 });

    // Log in again, then reload: the session cookie keeps us in.
    await alice.loginViaUi(page);
    await page.reload();
    await expect(page.getByTestId('chat-shell')).toBeVisible({ timeout: 20_000 });
    await expect(page.getByTestId('current-user')).toContainText(alice.displayName);
    await expect(page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });

    // The session cookie is HttpOnly: page scripts cannot read it.
    const cookies = await alice.context.cookies();
    const session = cookies.find((c) => c.name === 'courier_session');
    expect(session, 'courier_session cookie').toBeDefined();
    expect(session!.httpOnly, 'courier_session is HttpOnly').toBe(true);
    expect(await page.evaluate(() => document.cookie)).not.toContain('courier_session');
    await snap(testInfo, page, 'chat shell after reload');
  });

  test('wrong password shows login-error and keeps you out', async ({ actor }, testInfo) => {
    const bob = await actor('bob');
    await bob.registerViaApi();
    await bob.logoutViaApi();

    const page = bob.page;
    await page.goto('/login');
    await page.getByTestId('login-username').fill(bob.username);
    await page.getByTestId('login-password').fill('definitely-wrong-password');
    await page.getByTestId('login-submit').click();
    await expect(page.getByTestId('login-error')).toBeVisible();
    await expect(page.getByTestId('login-error')).not.toBeEmpty();
    await expect(page.getByTestId('chat-shell')).toHaveCount(0);
    await expect(page.getByTestId('login-form')).toBeVisible();
    await snap(testInfo, page, 'login error');

    // The right password still works afterwards.
    await bob.loginViaUi(page);
  });

  test('a taken username shows register-error', async ({ actor }, testInfo) => {
    const first = await actor('carol');
    await first.registerViaApi();

    const second = await actor('dave');
    const page = second.page;
    await page.goto('/register');
    await page.getByTestId('register-username').fill(first.username);
    await page.getByTestId('register-display-name').fill('Someone Else');
    await page.getByTestId('register-password').fill('another-password-1');
    await page.getByTestId('register-submit').click();
    await expect(page.getByTestId('register-error')).toBeVisible();
    await expect(page.getByTestId('register-error')).not.toBeEmpty();
    await expect(page.getByTestId('chat-shell')).toHaveCount(0);
    await snap(testInfo, page, 'register error');

    // The register page links back to login.
    await page.getByTestId('go-login').click();
    await expect(page.getByTestId('login-form')).toBeVisible();
  });

  test('/message-test loads directly by URL', async ({ actor, server }, testInfo) => {
    // The page is for operators (message-test-access.spec.ts has the others).
    const erin = await operator(actor, server);
    const page = erin.page;
    const res = await page.goto('/message-test');
    expect(res?.status(), 'SPA fallback serves index.html for /message-test').toBe(200);
    await expect(page.getByTestId('mt-conn-state')).toBeVisible({ timeout: 20_000 });
    await expect(page.getByTestId('mt-conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
    await snap(testInfo, page, 'message-test by direct URL');

    // Other deep links load the app too.
    for (const route of ['/login', '/register']) {
      const r = await erin.request.get(route);
      expect(r.status(), `GET ${route}`).toBe(200);
      expect(await r.text(), `GET ${route} serves index.html`).toContain('<html');
    }
  });
});
