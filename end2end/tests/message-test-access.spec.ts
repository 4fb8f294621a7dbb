/**
 * /message-test is for the server's operators (the `operators` setting, `COURIER_OPERATORS`; the e2e
 * servers name `OPERATOR_NAME`). Anyone else gets no header link to it, a notice instead of the page
 * (with a way back to the chat), and no server-wide figures from `/api/diagnostics`.
 */
import { test, expect, snap } from '../support/fixtures';
import { operator } from '../support/actor';

test('a user who is not an operator: no link, a notice instead of the page, no server figures', async ({
  actor,
}, testInfo) => {
  const erin = await actor('erin');
  await erin.registerViaApi();
  const page = await erin.openChat();
  await expect(page.getByTestId('current-user')).toBeVisible();
  // The session check has answered (the chat shell is up): the link is not there, now or later.
  await expect(page.getByTestId('message-test-link')).toHaveCount(0);
  await expect(page.locator('a[href="/message-test"]')).toHaveCount(0);

  const res = await page.goto('/message-test');
  expect(res?.status(), 'SPA fallback serves index.html for /message-test').toBe(200);
  const forbidden = page.getByTestId('mt-forbidden');
  await expect(forbidden).toBeVisible({ timeout: 20_000 });
  await expect(forbidden).toContainText('管理员'); // zh-CN: "only the server's operators (管理员)…"
  // Nothing of the page runs: no socket panel, no tests, no statistics.
  await expect(page.getByTestId('mt-conn-state')).toHaveCount(0);
  await expect(page.getByTestId('mt-offline-run')).toHaveCount(0);
  await expect(page.getByTestId('mt-stats')).toHaveCount(0);
  await snap(testInfo, page, 'message-test: not an operator');

  // The notice leads back to the chat.
  await forbidden.getByRole('link').click();
  await expect(page.getByTestId('chat-shell')).toBeVisible();
  await expect(page).toHaveURL(/\/$/);

  // The server agrees: no server-wide figures for this user.
  const diag = await erin.request.get('/api/diagnostics');
  expect(diag.status()).toBe(200);
  const body = await diag.json();
  expect(body).not.toHaveProperty('server');
  expect(body.online_users ?? null).toBeNull();
  expect(body.open_connections ?? null).toBeNull();
  const session = await (await erin.request.get('/api/auth/session')).json();
  expect(session.operator).toBe(false);
});

test('the operator: the header link leads to the working page', async ({ actor, server }, testInfo) => {
  const op = await operator(actor, server);
  const session = await (await op.request.get('/api/auth/session')).json();
  expect(session.operator, `${op.username} is an operator of the e2e server`).toBe(true);

  const page = await op.openChat();
  const link = page.getByTestId('message-test-link');
  await expect(link).toBeVisible({ timeout: 20_000 });
  await link.click();
  await expect(page).toHaveURL(/\/message-test$/);
  await expect(page.getByTestId('mt-conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
  await expect(page.getByTestId('mt-stats')).toBeVisible();
  await expect(page.getByTestId('mt-forbidden')).toHaveCount(0);
  // The page is one landmark, and the event log can be reached and named by keyboard and screen reader.
  await expect(page.locator('main')).toHaveCount(1);
  const log = page.getByTestId('mt-event-log');
  await expect(log).toHaveAttribute('tabindex', '0');
  await expect(log).toHaveAttribute('aria-label', /\S/);
  await expect(page.locator('.mt-table thead th').first()).not.toBeEmpty();

  const diag = await (await op.request.get('/api/diagnostics')).json();
  expect(diag, 'an operator gets the server-wide figures').toHaveProperty('server');
  await snap(testInfo, page, 'message-test: operator');
});

test('an operator who logs in through the form gets the link too', async ({ actor, server }) => {
  // The login answer is the user alone: the client asks the session whether they are an operator.
  const op = await operator(actor, server);
  await op.logoutViaApi();
  await op.loginViaUi();
  await expect(op.page.getByTestId('message-test-link')).toBeVisible({ timeout: 20_000 });
});
