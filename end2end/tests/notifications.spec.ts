/**
 * Desktop notifications, the favicon badge and per-conversation mute.
 *
 * The browser's Notification API is replaced by a recording stub (an init script): it remembers
 * every `new Notification(...)`, and its permission starts at 'default' and becomes 'granted'
 * when `requestPermission()` is called (remembered in localStorage, as a browser remembers it per
 * origin). Whether the tab is hidden and focused comes from `window.__e2eHidden`, so a test can
 * put a tab "in the background" without another window.
 */
import type { Page } from '@playwright/test';
import { test, expect } from '../support/fixtures';
import { conversationItem, directPair, messageByText, uniqueText, PASSWORD } from '../support/actor';

/** Runs in the page before the app (must not refer to anything outside itself). */
function stub(): void {
  const w = window as any;
  w.__e2eNotifications = [];
  w.__e2ePermissionRequests = 0;
  w.__e2eHidden = false;
  const PERM = '__e2e_notification_permission';
  class FakeNotification {
    title: string;
    tag: string;
    body: string;
    onclick: ((e: Event) => void) | null = null;
    static get permission(): string {
      return localStorage.getItem(PERM) ?? 'default';
    }
    static requestPermission(): Promise<string> {
      w.__e2ePermissionRequests += 1;
      localStorage.setItem(PERM, 'granted');
      return Promise.resolve('granted');
    }
    constructor(title: string, options: { tag?: string; body?: string } = {}) {
      this.title = title;
      this.tag = options.tag ?? '';
      this.body = options.body ?? '';
      w.__e2eNotifications.push({ title: this.title, tag: this.tag, body: this.body });
      w.__e2eLastNotification = this;
    }
    close(): void {}
    addEventListener(): void {}
    removeEventListener(): void {}
  }
  Object.defineProperty(window, 'Notification', { value: FakeNotification, configurable: true, writable: true });
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true,
    get: () => (w.__e2eHidden ? 'hidden' : 'visible'),
  });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => !!w.__e2eHidden });
  Document.prototype.hasFocus = () => !w.__e2eHidden;
}

/** Puts the tab in the background (hidden, unfocused) or brings it back, with the events a browser fires. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((h) => {
    (window as any).__e2eHidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new Event(h ? 'blur' : 'focus'));
  }, hidden);
}

type Shown = { title: string; tag: string; body: string };
const shown = (page: Page): Promise<Shown[]> => page.evaluate(() => (window as any).__e2eNotifications as Shown[]);
const permissionRequests = (page: Page): Promise<number> => page.evaluate(() => (window as any).__e2ePermissionRequests as number);
const iconHref = (page: Page): Promise<string> =>
  page.evaluate(() => document.querySelector('link[rel~="icon"]')?.getAttribute('href') ?? '');

test('a background tab notifies once per burst, never for my own messages, and never for a muted conversation', async ({
  actor,
  browser,
  server,
}) => {
  const { alice, bob, conv } = await directPair(actor);
  await bob.context.addInitScript(stub);
  const page = bob.page;
  await bob.openChat();
  await bob.openConversation(conv);

  // Nothing is asked on load; the in-app bar offers it after Bob's first message.
  await expect(page.getByTestId('notify-prompt')).toHaveCount(0);
  await bob.send(uniqueText('hello'));
  const prompt = page.getByTestId('notify-prompt');
  await expect(prompt).toBeVisible();
  expect(await permissionRequests(page)).toBe(0);
  await prompt.getByTestId('notify-enable').click();
  await expect(prompt).toHaveCount(0);
  expect(await permissionRequests(page)).toBe(1);

  // Back to the list, then the tab goes to the background.
  await page.goBack();
  await expect(page.getByTestId('message-pane')).toHaveCount(0);
  await setHidden(page, true);

  // Bob's own message from another device: no notification.
  const device = await browser.newContext({ baseURL: server.baseURL, locale: 'zh-CN' });
  try {
    const login = await device.request.post('/api/auth/login', { data: { username: bob.username, password: PASSWORD } });
    expect(login.status()).toBe(200);
    const other = await device.newPage();
    await other.goto(`/c/${conv}`);
    await expect(other.getByTestId('message-pane')).toBeVisible({ timeout: 20_000 });
    const mine = uniqueText('from my phone');
    await other.getByTestId('composer-input').fill(mine);
    await other.getByTestId('composer-input').press('Enter');
    await expect(messageByText(other, mine)).toHaveCount(1);
    await expect(conversationItem(page, conv).getByTestId('conversation-preview')).toContainText(mine, { timeout: 10_000 });
  } finally {
    await device.close();
  }
  expect(await shown(page)).toEqual([]);

  // Alice sends three quickly: one notification, tagged with the conversation.
  const burst = [uniqueText('burst one'), uniqueText('burst two'), uniqueText('burst three')];
  for (const [i, text] of burst.entries()) await alice.sendViaApi(conv, text, `burst-${conv}-${i}`);
  await expect(page).toHaveTitle('(3) Courier', { timeout: 10_000 });
  await expect.poll(() => shown(page)).toHaveLength(1);
  const [first] = await shown(page);
  expect(first.tag).toBe(`courier-c${conv}`);
  expect(first.title).toBe(alice.displayName);
  expect(first.body).toContain(burst[0]);

  // The icon carries the count (a data URL: Trunk's integrity attribute must not block it).
  await expect.poll(() => iconHref(page)).toMatch(/^data:image\/svg\+xml/);
  expect(decodeURIComponent(await iconHref(page))).toContain('>3<');
  expect(await page.evaluate(() => document.querySelector('link[rel~="icon"]')?.hasAttribute('integrity'))).toBe(false);

  // Clicking the notification brings the tab back with the conversation open, which reads it.
  await setHidden(page, false);
  await page.evaluate(() => (window as any).__e2eLastNotification.onclick(new Event('click')));
  await expect(page).toHaveURL(new RegExp(`/c/${conv}$`));
  await expect(page.getByTestId('message-pane')).toHaveAttribute('data-conversation-id', String(conv));
  await expect(page).toHaveTitle('Courier', { timeout: 10_000 });
  await expect.poll(() => iconHref(page)).not.toMatch(/^data:/);

  // Muted: Alice's next message counts nowhere and notifies no one.
  const toggle = page.getByTestId('mute-toggle');
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await expect(conversationItem(page, conv)).toHaveAttribute('data-muted', 'true');
  await setHidden(page, true);
  const quiet = uniqueText('while muted');
  await alice.sendViaApi(conv, quiet, `muted-${conv}`);
  await expect(conversationItem(page, conv).getByTestId('conversation-preview')).toContainText(quiet, { timeout: 10_000 });
  await expect(conversationItem(page, conv)).toHaveAttribute('data-unread', '1');
  await expect(page).toHaveTitle('Courier');
  expect(await iconHref(page)).not.toMatch(/^data:/);
  expect(await shown(page)).toHaveLength(1);

  // The mute is the server's: a reload keeps it. The choice made in the bar is kept too.
  await page.reload();
  await expect(page.getByTestId('message-pane')).toHaveAttribute('data-conversation-id', String(conv), { timeout: 20_000 });
  await expect(page.getByTestId('mute-toggle')).toHaveAttribute('aria-pressed', 'true');
  await expect(conversationItem(page, conv)).toHaveAttribute('data-muted', 'true');
  await expect(page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
  await bob.send(uniqueText('after reload'));
  await expect(page.getByTestId('notify-prompt')).toHaveCount(0);

  // Unmuted again, the next message in the background notifies (the mute was what kept it quiet).
  await page.getByTestId('mute-toggle').click();
  await expect(page.getByTestId('mute-toggle')).toHaveAttribute('aria-pressed', 'false');
  await expect(conversationItem(page, conv)).toHaveAttribute('data-muted', 'false');
  await setHidden(page, true);
  const loud = uniqueText('unmuted');
  await alice.sendViaApi(conv, loud, `unmuted-${conv}`);
  await expect(page).toHaveTitle('(1) Courier', { timeout: 10_000 });
  await expect.poll(() => shown(page)).toHaveLength(1);
  expect((await shown(page))[0].body).toContain(loud);
  expect(await permissionRequests(page)).toBe(0);
});

test('"Not now" is remembered and never asks the browser', async ({ actor }) => {
  const { bob, conv } = await directPair(actor);
  await bob.context.addInitScript(stub);
  const page = bob.page;
  await bob.openChat();
  await bob.openConversation(conv);
  await bob.send(uniqueText('first'));
  const prompt = page.getByTestId('notify-prompt');
  await expect(prompt).toBeVisible();
  await prompt.getByTestId('notify-dismiss').click();
  await expect(prompt).toHaveCount(0);

  await page.reload();
  await expect(page.getByTestId('message-pane')).toHaveAttribute('data-conversation-id', String(conv), { timeout: 20_000 });
  await expect(page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
  await bob.send(uniqueText('second'));
  await expect(prompt).toHaveCount(0);
  expect(await permissionRequests(page)).toBe(0);
});
