/**
 * What a new user sees first, checked the way they see it (issue 21's "What a new user sees"): the
 * desktop-notification banner, the mute button and the form errors — measured in the rendered page
 * (boxes, computed colours) in both languages and at phone width, with a screenshot of each.
 *
 * All three once went unstyled together: a rule left open in style/main.css made every later rule
 * a nested rule that matched nothing (app/tests/stylesheet.rs now checks the sheet's structure).
 */
import type { Locator, Page } from '@playwright/test';
import { test, expect, snap } from '../support/fixtures';
import { directPair, PASSWORD, uniqueText } from '../support/actor';

const PHONE = { width: 390, height: 844 };

/** Runs before the app: a Notification API whose permission is still to be asked. */
function askableNotifications(): void {
  class AskableNotification {
    static get permission(): string {
      return 'default';
    }
    static requestPermission(): Promise<string> {
      return Promise.resolve('default');
    }
    close(): void {}
  }
  Object.defineProperty(window, 'Notification', { value: AskableNotification, configurable: true, writable: true });
}

async function box(l: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  const b = await l.boundingBox();
  expect(b, 'the element is rendered').not.toBeNull();
  return b!;
}

/** Picks the language with the page's own switch (on a phone with a conversation open the switch is
 * off screen with the list: the page is widened for the click, then narrowed again). */
async function setLang(page: Page, code: 'zh' | 'en'): Promise<void> {
  const sw = page.getByTestId('lang-switch').first();
  if ((await sw.getAttribute('data-lang')) === code) return;
  const size = page.viewportSize()!;
  const hidden = !(await sw.isVisible());
  if (hidden) await page.setViewportSize({ width: 1280, height: 800 });
  await sw.click();
  await expect(sw).toHaveAttribute('data-lang', code);
  if (hidden) await page.setViewportSize(size);
}

type Rgb = [number, number, number];

function parseRgb(css: string): Rgb {
  const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)/.exec(css);
  expect(m, `a colour: ${css}`).not.toBeNull();
  return [Number(m![1]), Number(m![2]), Number(m![3])];
}

/** WCAG 2 contrast ratio of two colours. */
function contrast(a: Rgb, b: Rgb): number {
  const lum = ([r, g, bl]: Rgb) => {
    const ch = (v: number) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(bl);
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

async function styleOf(l: Locator, props: string[]): Promise<Record<string, string>> {
  return l.evaluate((el, ps) => {
    const cs = getComputedStyle(el);
    return Object.fromEntries(ps.map((p) => [p, cs.getPropertyValue(p)]));
  }, props);
}

/** The banner is a card in the page, not a bare line: inset, padded, tinted, rounded, its parts apart. */
async function expectBanner(page: Page, text: RegExp): Promise<void> {
  const prompt = page.getByTestId('notify-prompt');
  await expect(prompt).toBeVisible();
  await expect(page.getByTestId('notify-prompt-text')).toHaveText(text);
  const viewport = page.viewportSize()!;
  const b = await box(prompt);
  expect(b.y, 'not flush against the top edge').toBeGreaterThanOrEqual(4);
  expect(b.x, 'not flush against the left edge').toBeGreaterThanOrEqual(4);
  expect(b.x + b.width, 'within the page').toBeLessThanOrEqual(viewport.width - 4);
  const st = await styleOf(prompt, ['padding-top', 'padding-left', 'background-color', 'border-top-left-radius']);
  expect(parseFloat(st['padding-top'])).toBeGreaterThanOrEqual(6);
  expect(parseFloat(st['padding-left'])).toBeGreaterThanOrEqual(8);
  expect(parseFloat(st['border-top-left-radius'])).toBeGreaterThanOrEqual(4);
  expect(st['background-color']).not.toMatch(/rgba\(0, 0, 0, 0\)|transparent/);
  // The question and the two choices do not touch.
  const t = await box(page.getByTestId('notify-prompt-text'));
  const on = await box(prompt.getByTestId('notify-enable'));
  const off = await box(prompt.getByTestId('notify-dismiss'));
  const besideText = on.x >= t.x + t.width + 6;
  const belowText = on.y >= t.y + t.height;
  expect(besideText || belowText, `the buttons stand apart from the text (${JSON.stringify({ t, on })})`).toBe(true);
  expect(off.x, 'the two buttons stand apart').toBeGreaterThanOrEqual(on.x + on.width + 4);
  expect(off.x + off.width).toBeLessThanOrEqual(b.x + b.width);
}

test('the notification prompt is a banner in the app\'s style, in both languages and on a phone', async ({ actor }, testInfo) => {
  const { bob, conv } = await directPair(actor);
  await bob.context.addInitScript(askableNotifications);
  await bob.openChat();
  await bob.openConversation(conv);
  await bob.send(uniqueText('first'));
  const page = bob.page;

  await setLang(page, 'zh');
  await expectBanner(page, /桌面通知/);
  await snap(testInfo, page, 'notify banner zh');
  await setLang(page, 'en');
  await expectBanner(page, /desktop notification/);
  await snap(testInfo, page, 'notify banner en');

  await page.setViewportSize(PHONE);
  await expectBanner(page, /desktop notification/);
  await snap(testInfo, page, 'notify banner en phone');
  await setLang(page, 'zh');
  await expectBanner(page, /桌面通知/);
  await snap(testInfo, page, 'notify banner zh phone');
});

test('the mute button shows its bell beside its label, and on a phone the bell alone with a name', async ({ actor }, testInfo) => {
  const { bob, conv } = await directPair(actor);
  await bob.openChat();
  await bob.openConversation(conv);
  const page = bob.page;
  const toggle = page.getByTestId('mute-toggle');
  for (const [lang, name] of [
    ['zh', /免打扰/],
    ['en', /Mute/],
  ] as const) {
    await setLang(page, lang);
    await expect(toggle).toBeVisible();
    const icon = await box(toggle.locator('.mute-icon'));
    const label = await box(toggle.locator('.mute-label'));
    expect(icon.x + icon.width, `${lang}: the bell ends before the label starts`).toBeLessThanOrEqual(label.x + 0.5);
    const t = await box(toggle);
    expect(icon.x, 'inside the button').toBeGreaterThanOrEqual(t.x);
    expect(label.x + label.width, 'inside the button').toBeLessThanOrEqual(t.x + t.width + 0.5);
    await expect(toggle).toHaveAccessibleName(name);
    await snap(testInfo, page, `mute button ${lang}`);
  }

  await page.setViewportSize(PHONE);
  for (const [lang, name] of [
    ['en', /Mute/],
    ['zh', /免打扰/],
  ] as const) {
    await setLang(page, lang);
    await expect(toggle).toBeVisible();
    await expect(toggle.locator('.mute-label')).toBeHidden();
    await expect(toggle.locator('.mute-icon')).toBeVisible();
    await expect(toggle, 'an icon-only button keeps its accessible name').toHaveAccessibleName(name);
    const t = await box(toggle);
    expect(t.width, 'icon-only').toBeLessThanOrEqual(48);
    expect(t.x + t.width).toBeLessThanOrEqual(PHONE.width);
    await snap(testInfo, page, `mute button ${lang} phone`);
  }
  // Still a working toggle.
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
});

/** The error line reads as an error: danger colour with enough contrast, a tint, an icon, announced, tied to its input. */
async function expectMarkedError(page: Page, input: string, error: string, text: RegExp): Promise<void> {
  const err = page.getByTestId(error);
  await expect(err).toBeVisible();
  await expect(err).toHaveText(text);
  await expect(err).toHaveAttribute('role', 'alert');
  await expect(err.locator('svg.field-error-icon')).toBeVisible();
  const st = await styleOf(err, ['color', 'background-color']);
  const fg = parseRgb(st.color);
  const bg = parseRgb(st['background-color']);
  expect(st['background-color'], 'tinted, not help text on the page').not.toMatch(/rgba\(0, 0, 0, 0\)|transparent/);
  expect(fg[0], `a red (${st.color})`).toBeGreaterThan(fg[1] + 60);
  expect(contrast(fg, bg), `contrast of ${st.color} on ${st['background-color']}`).toBeGreaterThanOrEqual(4.5);
  const field = page.getByTestId(input);
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(field).toHaveAttribute('aria-describedby', (await err.getAttribute('id'))!);
  const b = await box(err);
  expect(b.x + b.width).toBeLessThanOrEqual(page.viewportSize()!.width);
}

test('registration and login errors are marked as errors, in both languages and on a phone', async ({ page }, testInfo) => {
  await page.goto('/register');
  const username = page.getByTestId('register-username');
  await expect(username).toBeEditable({ timeout: 20_000 });
  await setLang(page, 'zh');
  await username.fill('ab');
  await page.getByTestId('register-password').focus();
  await expectMarkedError(page, 'register-username', 'register-username-error', /用户名需为 3–32 个字符/);
  await snap(testInfo, page, 'register error zh');
  await setLang(page, 'en');
  await expectMarkedError(page, 'register-username', 'register-username-error', /3–32 characters/);
  await snap(testInfo, page, 'register error en');
  await page.setViewportSize(PHONE);
  await expectMarkedError(page, 'register-username', 'register-username-error', /3–32 characters/);
  await snap(testInfo, page, 'register error en phone');

  await page.goto('/login');
  await expect(page.getByTestId('login-username')).toBeEditable({ timeout: 20_000 });
  await setLang(page, 'zh');
  await page.getByTestId('login-submit').click();
  await expectMarkedError(page, 'login-username', 'login-username-error', /请输入用户名/);
  await expectMarkedError(page, 'login-password', 'login-password-error', /请输入密码/);
  await snap(testInfo, page, 'login errors zh phone');
  // A refusal by the server is an alert in the same colours.
  await page.getByTestId('login-username').fill('nobody_by_that_name');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  const refused = page.getByTestId('login-error');
  await expect(refused).toBeVisible();
  await expect(refused).toHaveAttribute('role', 'alert');
  const st = await styleOf(refused, ['color', 'background-color']);
  expect(contrast(parseRgb(st.color), parseRgb(st['background-color']))).toBeGreaterThanOrEqual(4.5);
  await snap(testInfo, page, 'login refused zh phone');
});
