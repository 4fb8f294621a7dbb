/**
 * Forms check the server's limits before sending anything, per field (shown on blur and on
 * submit, tied to the input with aria-invalid and aria-describedby), and every error — the
 * client's own and the server's — is shown in the user's language from the error's `code`,
 * `field` and `rule`, never the server's English text and never a raw field name. A logged-out
 * visit to a protected page comes back to it after logging in (`/login?next=…`).
 */
import type { Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { directPair, uniqueName, PASSWORD } from '../support/actor';

/** Paths of every request the page makes to `path`. */
function requestsTo(page: Page, path: string): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === path) seen.push(r.method());
  });
  return seen;
}

/** The input is marked invalid and points at its error element, which shows `text`. */
async function expectFieldError(page: Page, input: string, error: string, text: RegExp): Promise<void> {
  const err = page.getByTestId(error);
  await expect(err).toBeVisible();
  await expect(err).toHaveText(text);
  const el = page.getByTestId(input);
  await expect(el).toHaveAttribute('aria-invalid', 'true');
  const id = await err.getAttribute('id');
  expect(id, `${error} has an id`).toBeTruthy();
  await expect(el).toHaveAttribute('aria-describedby', new RegExp(`(^|\\s)${id}(\\s|$)`));
}

test('register: a too-short username is refused on the page, in Chinese, without a request', async ({ page }) => {
  const register = requestsTo(page, '/api/auth/register');
  await page.goto('/register');
  const username = page.getByTestId('register-username');
  await expect(username).toBeEditable({ timeout: 20_000 });
  await username.fill('ab');
  // Shown on blur, before any submit.
  await page.getByTestId('register-password').focus();
  await expectFieldError(page, 'register-username', 'register-username-error', /用户名.*3.*32/);
  await page.getByTestId('register-password').fill(PASSWORD);
  await page.getByTestId('register-submit').click();
  await expectFieldError(page, 'register-username', 'register-username-error', /用户名.*3.*32/);
  await expect(page.getByTestId('register-username-error')).not.toContainText(/username/i);
  await expect(page).toHaveURL(/\/register$/);
  expect(register, 'no request to /api/auth/register').toEqual([]);

  // Fixed: the error goes away, the input is valid again.
  await username.fill(uniqueName('forms'));
  await page.getByTestId('register-display-name').focus();
  await expect(page.getByTestId('register-username-error')).toHaveCount(0);
  await expect(username).not.toHaveAttribute('aria-invalid', 'true');
});

test('register: a too-common password (a server-only rule) is explained in Chinese, without "password:"', async ({ page }) => {
  await page.goto('/register');
  await expect(page.getByTestId('register-username')).toBeEditable({ timeout: 20_000 });
  await page.getByTestId('register-username').fill(uniqueName('forms'));
  await page.getByTestId('register-password').fill('password123');
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/register');
  await page.getByTestId('register-submit').click();
  const res = await answer;
  expect(res.status()).toBe(422);
  expect((await res.json()).error).toMatchObject({ code: 'invalid_input', field: 'password', rule: 'common' });
  await expectFieldError(page, 'register-password', 'register-password-error', /密码.*常见/);
  const text = (await page.getByTestId('register-password-error').textContent()) ?? '';
  expect(text).not.toMatch(/password|common|[a-z]{4,}/i);
  await expect(page.getByTestId('register-form')).not.toContainText('password:');
});

test('login: empty fields are refused on the page, without a request', async ({ page }) => {
  const login = requestsTo(page, '/api/auth/login');
  await page.goto('/login');
  await expect(page.getByTestId('login-username')).toBeEditable({ timeout: 20_000 });
  await page.getByTestId('login-submit').click();
  await expectFieldError(page, 'login-username', 'login-username-error', /请输入用户名/);
  await expectFieldError(page, 'login-password', 'login-password-error', /请输入密码/);
  await expect(page).toHaveURL(/\/login$/);
  expect(login, 'no request to /api/auth/login').toEqual([]);
});

test('group creation: an empty title is marked on its field', async ({ actor }) => {
  const { alice } = await directPair(actor);
  const page = await alice.openChat();
  await page.getByTestId('new-group-button').click();
  await page.getByTestId('group-member-option').first().check();
  await page.getByTestId('group-create-submit').click();
  await expectFieldError(page, 'group-title-input', 'group-title-error', /群名称|名称/);
});

test('a server refusal (rate limit) is worded in Chinese with its wait, not the server\'s English', async ({ actor }) => {
  const { alice, bob } = await directPair(actor);
  // Use up Alice's group-creation allowance through the API (same session, same bucket).
  for (let i = 0; i < 50; i++) {
    const res = await alice.request.post('/api/conversations/group', { data: { title: `g${i}`, member_ids: [bob.id] } });
    if (res.status() === 429) break;
    expect(res.status(), await res.text()).toBe(201);
  }
  const page = await alice.openChat();
  await page.getByTestId('new-group-button').click();
  await page.getByTestId('group-title-input').fill('再来一个');
  await page.locator(`[data-testid="group-member-option"][data-username="${bob.username}"]`).check();
  await page.getByTestId('group-create-submit').click();
  const error = page.getByTestId('group-error');
  await expect(error).toHaveText(/操作太频繁，请 \d+ 秒后再试/);
  await expect(error).not.toContainText(/[a-z]{3,}/i);
});

test('a logged-out link to a conversation comes back to it after logging in', async ({ actor }) => {
  const { alice, conv } = await directPair(actor);
  await alice.logoutViaApi();
  const page = alice.page;
  await page.goto(`/c/${conv}`);
  await expect(page).toHaveURL(new RegExp(`/login\\?next=(%2F|/)c(%2F|/)${conv}$`), { timeout: 20_000 });
  await page.getByTestId('login-username').fill(alice.username);
  await page.getByTestId('login-password').fill(alice.password);
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('message-pane')).toHaveAttribute('data-conversation-id', String(conv), { timeout: 20_000 });
  await expect(page).toHaveURL(new RegExp(`/c/${conv}$`));
});

test('next= only accepts a path of this site', async ({ actor }) => {
  const alice = await actor('alice');
  await alice.registerViaApi();
  await alice.logoutViaApi();
  const page = alice.page;
  for (const next of ['//example.com/x', 'https://example.com/', '/\\example.com']) {
    await page.goto(`/login?next=${encodeURIComponent(next)}`);
    await page.getByTestId('login-username').fill(alice.username);
    await page.getByTestId('login-password').fill(alice.password);
    await page.getByTestId('login-submit').click();
    await expect(page.getByTestId('chat-shell')).toBeVisible({ timeout: 20_000 });
    expect(new URL(page.url()).origin, next).toBe(new URL(alice.baseURL).origin);
    await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/$/);
    await alice.logoutViaApi();
  }
});

test('composer: a message over the server\'s 4,000-character limit cannot be sent and says why', async ({ actor }) => {
  const { alice, conv } = await directPair(actor);
  await alice.openChat();
  await alice.openConversation(conv);
  const input = alice.page.getByTestId('composer-input');
  await input.fill('长'.repeat(4001));
  await expect(alice.page.getByTestId('composer-error')).toContainText('4001/4000');
  await expect(input).toHaveAttribute('aria-invalid', 'true');
  await expect(alice.page.getByTestId('send-button')).toBeDisabled();
  await input.press('Enter');
  await expect(alice.page.getByTestId('message')).toHaveCount(0);
  // Exactly the limit is fine (spaces around it are trimmed, as when sending).
  await input.fill(` ${'长'.repeat(4000)} `);
  await expect(alice.page.getByTestId('composer-error')).toHaveCount(0);
  await input.press('Enter');
  await expect(alice.page.getByTestId('message')).toHaveCount(1);
  await expect(alice.page.getByTestId('message')).toHaveAttribute('data-seq', '1', { timeout: 10_000 });
});
