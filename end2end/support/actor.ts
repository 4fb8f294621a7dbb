/**
 * One user of the chat, in a browser context of their own (cookies are per context; pages of the
 * same context share the session, and `context.request` shares the context's cookies).
 *
 * Everything here uses only the data-testid contract of /work/notes/CONTRACT.md and the HTTP API.
 */
import { expect, type APIResponse, type Browser, type BrowserContext, type Locator, type Page, type TestInfo } from '@playwright/test';
import { OPERATOR_NAME, type OperatorHost } from './server';

export { OPERATOR_NAME };

export const PASSWORD = 'e2e-Passw0rd!';

/** Text a recalled message shows in zh (the tests run with locale zh-CN). */
export const RECALLED_ZH = '消息已撤回';

export interface User {
  id: number;
  username: string;
  display_name: string;
  created_at: number;
}

export interface Message {
  id: number;
  conversation_id: number;
  seq: number;
  sender_id: number;
  sender_name: string;
  client_msg_id: string;
  content: string | null;
  recalled: boolean;
  status: 'sending' | 'sent' | 'delivered' | 'read';
  created_at: number;
}

export interface Conversation {
  id: number;
  kind: 'direct' | 'group';
  title: string;
  members: { user_id: number; username: string; display_name: string; read_seq: number; delivered_seq: number }[];
  last_seq: number;
  read_seq: number;
  unread: number;
}

let counter = 0;

/** A unique, valid username: lowercase letters and digits, 3..32 chars. */
export function uniqueName(prefix: string): string {
  const p = prefix.toLowerCase().replace(/[^a-z]/g, '').slice(0, 10) || 'u';
  const t = Date.now().toString(36).slice(-7);
  const r = Math.random().toString(36).slice(2, 6).padEnd(4, '0');
  counter += 1;
  return `${p}${t}${r}${counter.toString(36)}`.slice(0, 32);
}

/** A unique text for a message, easy to spot in screenshots. */
export function uniqueText(prefix: string): string {
  return `${prefix} ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------- locators

export const messageList = (page: Page): Locator => page.getByTestId('message-list');

/** Every message bubble in the open conversation. */
export const messages = (page: Page): Locator => messageList(page).getByTestId('message');

/** The message bubble(s) whose content is exactly `text`. */
export function messageByText(page: Page, text: string): Locator {
  return messages(page).filter({
    has: page.getByTestId('message-content').filter({ hasText: new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) }),
  });
}

export function messageById(page: Page, id: number | string): Locator {
  return messageList(page).locator(`[data-testid="message"][data-message-id="${id}"]`);
}

/** Alice and Bob, registered through the API, with their direct conversation. */
export async function directPair(
  actor: (label: string) => Promise<Actor>,
): Promise<{ alice: Actor; bob: Actor; conv: number }> {
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();
  const conv = (await alice.startDirectViaApi(bob)).id;
  return { alice, bob, conv };
}

/**
 * The e2e operator (`OPERATOR_NAME`): the only user /message-test serves. The name is fixed and a
 * worker's tests share its database, so this registers the account the first time and logs in
 * after that; the role is granted on the host (`courier admin grant-operator`), as a server's
 * operator grants it — registering a name never makes anyone an operator.
 */
export async function operator(
  actor: (label: string, opts?: { username?: string }) => Promise<Actor>,
  host: OperatorHost,
): Promise<Actor> {
  const op = await actor('operator', { username: OPERATOR_NAME });
  await op.registerOrLoginViaApi();
  host.grantOperator(OPERATOR_NAME);
  return op;
}

/**
 * Recalls one of my messages as a user does: the bubble's menu (shown on hover), "撤回"/"Recall",
 * then the confirmation.
 */
export async function recallViaUi(bubble: Locator): Promise<void> {
  await bubble.hover();
  await bubble.getByTestId('message-menu-button').click();
  await bubble.getByTestId('recall-button').click();
  await bubble.getByTestId('recall-confirm').click();
}

export function conversationItem(page: Page, conversationId: number): Locator {
  return page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversationId}"]`);
}

/** data-seq of every message in DOM order (messages without a seq yet are skipped). */
export async function seqsOnPage(page: Page): Promise<number[]> {
  return messages(page).evaluateAll((els) =>
    els
      .map((e) => e.getAttribute('data-seq'))
      .filter((s): s is string => s !== null && s !== '')
      .map((s) => Number(s)),
  );
}

/** Message contents in DOM order. */
export async function textsOnPage(page: Page): Promise<string[]> {
  return messages(page).evaluateAll((els) =>
    els.map((e) => (e.querySelector('[data-testid="message-content"]')?.textContent ?? '').trim()),
  );
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

/** Asserts the open conversation shows exactly `texts`, in this order, with seqs 1..n. */
export async function expectHistory(page: Page, texts: string[], timeout = 20_000): Promise<void> {
  await expect(messages(page)).toHaveCount(texts.length, { timeout });
  await expect.poll(() => textsOnPage(page), { timeout, message: 'message texts in order' }).toEqual(texts);
  await expect.poll(() => seqsOnPage(page), { timeout, message: 'data-seq ascending 1..n' }).toEqual(range(1, texts.length));
}

// ---------------------------------------------------------------- actor

export class Actor {
  readonly username: string;
  readonly password = PASSWORD;
  readonly displayName: string;
  user: User | null = null;
  /** Console messages, page errors and WebSocket events of every page of this context. */
  readonly log: string[] = [];

  private constructor(
    readonly label: string,
    readonly context: BrowserContext,
    public page: Page,
    readonly baseURL: string,
    username?: string,
  ) {
    this.username = username ?? uniqueName(label);
    this.displayName = `${label[0].toUpperCase()}${label.slice(1)} ${this.username.slice(-5)}`;
  }

  static async create(
    browser: Browser,
    baseURL: string,
    label: string,
    opts: { username?: string } = {},
  ): Promise<Actor> {
    const context = await browser.newContext({
      baseURL,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      viewport: { width: 1280, height: 800 },
    });
    const actor = new Actor(label, context, undefined as unknown as Page, baseURL, opts.username);
    context.on('page', (p) => actor.watch(p));
    actor.page = await context.newPage();
    return actor;
  }

  private watch(page: Page): void {
    const idx = this.context.pages().indexOf(page);
    const tag = `[${this.label}#${idx}]`;
    const t = () => new Date().toISOString().slice(11, 23);
    page.on('console', (m) => this.log.push(`${t()} ${tag} console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => this.log.push(`${t()} ${tag} PAGE ERROR: ${e.message}`));
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) this.log.push(`${t()} ${tag} navigated ${f.url()}`);
    });
    page.on('websocket', (ws) => {
      this.log.push(`${t()} ${tag} ws open ${ws.url()}`);
      const short = (p: string | Buffer) => {
        const s = typeof p === 'string' ? p : `<binary ${p.length}>`;
        return s.length > 300 ? `${s.slice(0, 300)}…` : s;
      };
      ws.on('framesent', (f) => this.log.push(`${t()} ${tag} ws > ${short(f.payload)}`));
      ws.on('framereceived', (f) => this.log.push(`${t()} ${tag} ws < ${short(f.payload)}`));
      ws.on('socketerror', (e) => this.log.push(`${t()} ${tag} ws error ${e}`));
      ws.on('close', () => this.log.push(`${t()} ${tag} ws closed`));
    });
  }

  async attachDiagnostics(testInfo: TestInfo): Promise<void> {
    const pages = this.context.pages();
    for (let i = 0; i < pages.length; i++) {
      const p = pages[i];
      if (p.isClosed()) continue;
      const file = testInfo.outputPath(`failure-${this.label}-page${i}.png`);
      try {
        await p.screenshot({ path: file, timeout: 5000 });
        await testInfo.attach(`failure-${this.label}-page${i}`, { path: file, contentType: 'image/png' });
      } catch {
        /* page may be gone */
      }
    }
    await testInfo.attach(`browser-log-${this.label} (${this.username})`, {
      body: this.log.join('\n'),
      contentType: 'text/plain',
    });
  }

  get request() {
    return this.context.request;
  }

  async newPage(): Promise<Page> {
    return this.context.newPage();
  }

  // ------------------------------------------------------------ HTTP API (fast setup)

  private async json<T>(res: APIResponse, what: string, ok: number[]): Promise<T> {
    if (!ok.includes(res.status())) {
      throw new Error(`${what}: expected HTTP ${ok.join('/')}, got ${res.status()} ${await res.text()}`);
    }
    const text = await res.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  async registerViaApi(): Promise<User> {
    const res = await this.request.post('/api/auth/register', {
      data: { username: this.username, password: this.password, display_name: this.displayName },
    });
    this.user = await this.json<User>(res, `register ${this.username}`, [201]);
    return this.user;
  }

  /** Registers, or logs in when the username is taken (a fixed name such as the operator's). */
  async registerOrLoginViaApi(): Promise<User> {
    const res = await this.request.post('/api/auth/register', {
      data: { username: this.username, password: this.password, display_name: this.displayName },
    });
    if (res.status() === 409) return this.loginViaApi();
    this.user = await this.json<User>(res, `register ${this.username}`, [201]);
    return this.user;
  }

  async loginViaApi(): Promise<User> {
    const res = await this.request.post('/api/auth/login', {
      data: { username: this.username, password: this.password },
    });
    this.user = await this.json<User>(res, `login ${this.username}`, [200]);
    return this.user;
  }

  async logoutViaApi(): Promise<void> {
    // JSON like every mutation (the server refuses body-less form-style POSTs).
    const res = await this.request.post('/api/auth/logout', { data: {} });
    await this.json<unknown>(res, `logout ${this.username}`, [200, 204]);
  }

  async conversations(): Promise<Conversation[]> {
    return this.json<Conversation[]>(await this.request.get('/api/conversations'), 'list conversations', [200]);
  }

  /** Creates (or reopens) the 1:1 with `other` through the API. */
  async startDirectViaApi(other: Actor): Promise<Conversation> {
    const res = await this.request.post('/api/conversations/direct', { data: { user_id: other.id } });
    return this.json<Conversation>(res, 'start direct conversation', [200, 201]);
  }

  /** Id of the direct conversation with `other` (from GET /api/conversations). */
  async directConversationId(other: Actor): Promise<number> {
    let found: number | undefined;
    await expect
      .poll(
        async () => {
          const list = await this.conversations();
          found = list.find((c) => c.kind === 'direct' && c.members.some((m) => m.user_id === other.id))?.id;
          return found;
        },
        { message: `${this.label} has a direct conversation with ${other.label}`, timeout: 10_000 },
      )
      .toBeDefined();
    return found!;
  }

  /**
   * Sends through POST /api/conversations/{id}/messages, retrying the same client_msg_id on
   * HTTP 429 (rate limit) or a connection error — sends are idempotent per client_msg_id.
   */
  async sendViaApi(conversationId: number, content: string, clientMsgId: string): Promise<Message> {
    for (let attempt = 0; attempt < 200; attempt++) {
      let res: APIResponse;
      try {
        res = await this.request.post(`/api/conversations/${conversationId}/messages`, {
          data: { client_msg_id: clientMsgId, content },
        });
      } catch (e) {
        await sleep(250);
        continue;
      }
      if (res.status() === 429) {
        let waitMs = 500;
        const header = res.headers()['retry-after'];
        if (header && !Number.isNaN(Number(header))) waitMs = Number(header) * 1000;
        try {
          const body = await res.json();
          if (typeof body?.error?.retry_after_ms === 'number') waitMs = body.error.retry_after_ms;
        } catch {
          /* not JSON */
        }
        await sleep(Math.min(Math.max(waitMs, 50), 5000));
        continue;
      }
      const ack = await this.json<{ message: Message; duplicate: boolean }>(res, `send "${content}"`, [200, 201]);
      return ack.message;
    }
    throw new Error(`send "${content}": still rate limited after many attempts`);
  }

  get id(): number {
    if (!this.user) throw new Error(`${this.label} is not registered yet`);
    return this.user.id;
  }

  // ------------------------------------------------------------ UI

  /** Registers through the /register form; lands on the chat shell. */
  async registerViaUi(page: Page = this.page): Promise<void> {
    await page.goto('/register');
    await expect(page.getByTestId('register-form')).toBeVisible();
    await page.getByTestId('register-username').fill(this.username);
    await page.getByTestId('register-display-name').fill(this.displayName);
    await page.getByTestId('register-password').fill(this.password);
    await page.getByTestId('register-submit').click();
    await expect(page.getByTestId('chat-shell')).toBeVisible({ timeout: 20_000 });
    await expect(page.getByTestId('current-user')).toContainText(this.displayName);
    const me = await this.request.get('/api/auth/me');
    this.user = await this.json<User>(me, 'me', [200]);
  }

  /** Logs in through the /login form; lands on the chat shell with an open connection. */
  async loginViaUi(page: Page = this.page, password: string = this.password): Promise<void> {
    await page.goto('/login');
    await expect(page.getByTestId('login-form')).toBeVisible();
    await page.getByTestId('login-username').fill(this.username);
    await page.getByTestId('login-password').fill(password);
    await page.getByTestId('login-submit').click();
    await expect(page.getByTestId('chat-shell')).toBeVisible({ timeout: 20_000 });
    await expect(page.getByTestId('current-user')).toContainText(this.displayName);
    await expect(page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
  }

  async logoutViaUi(page: Page = this.page): Promise<void> {
    await page.getByTestId('logout-button').click();
    await expect(page.getByTestId('login-form')).toBeVisible({ timeout: 15_000 });
  }

  /** Opens the chat shell (`/`) and waits for the WebSocket to be open. */
  async openChat(page: Page = this.page): Promise<Page> {
    await page.goto('/');
    await expect(page.getByTestId('chat-shell')).toBeVisible({ timeout: 20_000 });
    await expect(page.getByTestId('conn-state')).toHaveAttribute('data-state', 'open', { timeout: 20_000 });
    return page;
  }

  /** Starts the 1:1 with `other` through the user search; returns the conversation id. */
  async startDirectViaUi(other: Actor, page: Page = this.page): Promise<number> {
    const search = page.getByTestId('user-search-input');
    await search.fill(other.username);
    const result = page.locator(`[data-testid="user-search-result"][data-username="${other.username}"]`);
    await expect(result).toBeVisible({ timeout: 15_000 });
    await result.click();
    await expect(page.getByTestId('message-pane')).toBeVisible();
    await expect(page.getByTestId('composer-input')).toBeVisible();
    const id = await this.directConversationId(other);
    await expect(conversationItem(page, id)).toBeVisible();
    return id;
  }

  /** Clicks the conversation in the list and waits for its history to be shown. */
  async openConversation(conversationId: number, page: Page = this.page): Promise<void> {
    const item = conversationItem(page, conversationId);
    await expect(item).toBeVisible({ timeout: 20_000 });
    await item.click();
    await expect(page.getByTestId('message-pane')).toBeVisible();
    await expect(page.getByTestId('composer-input')).toBeVisible();
    await expect(page.getByTestId('history-loading')).toHaveCount(0, { timeout: 20_000 });
  }

  /** Types `text` in the composer and presses Enter; returns the locator of the new bubble. */
  async send(text: string, page: Page = this.page): Promise<Locator> {
    const input = page.getByTestId('composer-input');
    await input.fill(text);
    await input.press('Enter');
    const bubble = messageByText(page, text);
    await expect(bubble).toHaveCount(1, { timeout: 10_000 });
    await expect(input).toHaveValue('');
    return bubble;
  }
}
