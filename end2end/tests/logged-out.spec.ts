/**
 * The normal logged-out state is not an error: a first visit asks the server who is logged in
 * and gets "nobody" — no 401 response and no red line in the browser's console.
 */
import { test, expect } from '../support/fixtures';

test('a logged-out visit makes no failed request and logs no error', async ({ page }) => {
  const errors: string[] = [];
  const unauthorized: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => {
    if (r.status() === 401) unauthorized.push(r.url());
  });
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/, { timeout: 20_000 });
  await expect(page.getByTestId('login-username')).toBeEditable();
  await page.goto('/register');
  await expect(page.getByTestId('register-username')).toBeEditable();
  expect(unauthorized, 'no 401 responses').toEqual([]);
  expect(errors, 'no console errors').toEqual([]);
});
