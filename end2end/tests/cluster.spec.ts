/**
 * The cluster in a real browser: two users talk through HAProxy while their WebSockets are served by
 * different Courier nodes (one PostgreSQL, pushes crossing over NATS) — the cluster `make cluster`
 * starts, on the debug build. Every live frame the screen depends on must cross: the new
 * conversation, messages both ways, `status` (delivered, then read), `typing`, `recalled`, and
 * `read_position` between one user's tabs on the two nodes. /message-test labels its connection
 * counts with the node that answered.
 *
 * Which node serves a page is read from its `welcome` frame (the connection id carries the node id in
 * its high bits); a page that lands on the wrong node is reloaded, so the test never passes by both
 * users sharing one node.
 */
import { test as base, expect, snap } from '../support/fixtures';
import { CourierCluster, nodeOfConnection } from '../support/cluster';
import {
  RECALLED_ZH,
  conversationItem,
  expectHistory,
  messageById,
  messageByText,
  uniqueText,
  recallViaUi,
  operator,
  type Actor,
} from '../support/actor';
import type { Page } from '@playwright/test';

const CLUSTER_PORT = Number(process.env.E2E_CLUSTER_PORT ?? Number(process.env.E2E_PORT ?? 3100) + 50);

const test = base.extend<{ clusterReport: void }, { cluster: CourierCluster }>({
  cluster: [
    async ({}, use) => {
      const cluster = new CourierCluster(CLUSTER_PORT);
      const onExit = () => cluster.killNow();
      process.on('exit', onExit);
      try {
        await cluster.start();
        await use(cluster);
      } finally {
        await cluster.stop();
        process.off('exit', onExit);
      }
    },
    // PostgreSQL's initdb and two nodes' migrations; the first run may also apt-get the services.
    { scope: 'worker', timeout: 360_000 },
  ],
  baseURL: async ({ cluster }, use) => {
    await use(cluster.baseURL);
  },
  clusterReport: [
    async ({ cluster }, use, testInfo) => {
      await use();
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('cluster.log', { body: cluster.report(), contentType: 'text/plain' });
      }
    },
    { auto: true },
  ],
});

/** The node serving the page's latest WebSocket, from its `welcome` frame; `null` until one arrives. */
class NodeOfPage {
  node: number | null = null;
  constructor(page: Page) {
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => {
        if (typeof f.payload !== 'string' || !f.payload.includes('"welcome"')) return;
        const frame = JSON.parse(f.payload) as { type: string; connection_id?: number };
        if (frame.type === 'welcome' && typeof frame.connection_id === 'number') {
          this.node = nodeOfConnection(frame.connection_id);
        }
      });
    });
  }
}

/**
 * Opens the chat on `page` until its WebSocket is served by a node that `wanted` accepts (HAProxy
 * sends a new connection to the node with the fewest, so this rarely takes a second load).
 */
async function openChatOnNode(actor: Actor, page: Page, wanted: (node: number) => boolean): Promise<number> {
  const seen = new NodeOfPage(page);
  for (let attempt = 1; attempt <= 12; attempt++) {
    seen.node = null;
    await actor.openChat(page);
    await expect.poll(() => seen.node, { timeout: 10_000, message: 'a welcome frame' }).not.toBeNull();
    if (wanted(seen.node!)) return seen.node!;
  }
  throw new Error(`${actor.username}: twelve page loads never reached the wanted node`);
}

/** The id of the node on `port` (its diagnostics name it). */
async function nodeIdAt(actor: Actor, port: number): Promise<number | null> {
  const res = await actor.request.get(`http://127.0.0.1:${port}/api/diagnostics`);
  expect(res.status()).toBe(200);
  return ((await res.json()) as { node: number | null }).node;
}

/** The port of the node with this id. */
async function portOfNode(actor: Actor, cluster: CourierCluster, node: number): Promise<number> {
  for (const n of cluster.nodes) {
    if ((await nodeIdAt(actor, n.port)) === node) return n.port;
  }
  throw new Error(`no node answers with id ${node}`);
}

test('two users on different nodes talk live through HAProxy', async ({ actor, cluster }, testInfo) => {
  expect(cluster.nodes).toHaveLength(2);
  const alice = await actor('alice');
  const bob = await actor('bob');
  await alice.registerViaApi();
  await bob.registerViaApi();

  const aliceNode = await openChatOnNode(alice, alice.page, () => true);
  const bobNode = await openChatOnNode(bob, bob.page, (n) => n !== aliceNode);
  testInfo.annotations.push({ type: 'nodes', description: `alice on ${aliceNode}, bob on ${bobNode}` });

  // The new conversation reaches Bob's node (a `conversation` frame) before any message is sent.
  const conv = await alice.startDirectViaUi(bob);
  await expect(conversationItem(bob.page, conv)).toBeVisible({ timeout: 20_000 });
  // HAProxy may have sent that request to Bob's own node. A group created on Alice's node, asked
  // there directly, makes the crossing certain.
  const otherPort = await portOfNode(alice, cluster, aliceNode);
  const res = await alice.request.post(`http://127.0.0.1:${otherPort}/api/conversations/group`, {
    data: { title: uniqueText('跨节点群'), member_ids: [bob.id] },
  });
  expect(res.status(), await res.text()).toBe(201);
  const group = (await res.json()) as { id: number };
  await expect(conversationItem(bob.page, group.id)).toBeVisible({ timeout: 20_000 });
  const hello = uniqueText('跨节点 hello');
  const first = await alice.send(hello);
  await expect(conversationItem(bob.page, conv).getByTestId('conversation-preview')).toContainText(hello);

  // Bob is online but has not opened it: delivered, not read — the status crosses back to Alice's node.
  await expect(first).toHaveAttribute('data-status', 'delivered', { timeout: 20_000 });
  await expect(conversationItem(bob.page, conv)).toHaveAttribute('data-unread', '1');

  // Bob opens it: read, on Alice's screen.
  await bob.openConversation(conv);
  await expectHistory(bob.page, [hello]);
  await expect(first).toHaveAttribute('data-status', 'read', { timeout: 20_000 });

  // Typing crosses nodes (never stored, only pushed).
  await bob.page.getByTestId('composer-input').pressSequentially('正在');
  await expect(alice.page.locator('.pane-subtitle')).toContainText('正在输入', { timeout: 10_000 });

  // Messages both ways, each once and in order on both screens.
  await bob.page.getByTestId('composer-input').fill('');
  const reply = uniqueText('回复 reply');
  await bob.send(reply);
  const more = [1, 2, 3].map((i) => uniqueText(`第 ${i} 条`));
  for (const t of more) await alice.send(t);
  await expectHistory(alice.page, [hello, reply, ...more]);
  await expectHistory(bob.page, [hello, reply, ...more]);
  for (const t of more) {
    await expect(messageByText(alice.page, t)).toHaveAttribute('data-status', 'read', { timeout: 20_000 });
  }
  await snap(testInfo, alice.page, `alice (node ${aliceNode})`);
  await snap(testInfo, bob.page, `bob (node ${bobNode})`);

  // Recall on Alice's node reaches Bob's.
  const secret = uniqueText('撤回 secret');
  const sent = await alice.send(secret);
  await expect(sent).toHaveAttribute('data-message-id', /^\d+$/);
  const id = (await sent.getAttribute('data-message-id'))!;
  await expect(messageById(bob.page, id).getByTestId('message-content')).toHaveText(secret);
  await recallViaUi(sent);
  await expect(messageById(bob.page, id)).toHaveAttribute('data-recalled', 'true', { timeout: 10_000 });
  await expect(messageById(bob.page, id).getByTestId('message-content')).toHaveText(RECALLED_ZH);
  await expect(bob.page.getByText(secret)).toHaveCount(0);
  await snap(testInfo, bob.page, 'bob: recalled across nodes');

  // A second tab of Bob's on Alice's node: the two tabs (two nodes) stay in agreement. Tab 1 has the
  // conversation open and reads what arrives; tab 2 learns of it through `read_position`.
  const tab2 = await bob.newPage();
  const tab2Node = await openChatOnNode(bob, tab2, (n) => n === aliceNode);
  expect(tab2Node).not.toBe(bobNode);
  const last = uniqueText('两个标签 two tabs');
  await alice.send(last);
  await expect(messageByText(bob.page, last)).toHaveCount(1);
  const item2 = conversationItem(tab2, conv);
  await expect(item2.getByTestId('conversation-preview')).toContainText(last, { timeout: 20_000 });
  await expect(item2).toHaveAttribute('data-unread', '0', { timeout: 20_000 });
  await expect(messageByText(alice.page, last)).toHaveAttribute('data-status', 'read', { timeout: 20_000 });
  await bob.openConversation(conv, tab2);
  await expectHistory(tab2, [hello, reply, ...more, RECALLED_ZH, last]);
  await snap(testInfo, tab2, `bob tab 2 (node ${tab2Node})`);

  // /message-test (the operator's page; the role is stored in the shared database) says whose
  // figures it shows: the node that answered (HAProxy picks it).
  const op = await operator(actor, cluster);
  await op.page.goto('/message-test');
  const nodes = await Promise.all(cluster.nodes.map((n) => nodeIdAt(alice, n.port)));
  await expect(op.page.locator('.mt-kv dt').filter({ hasText: '在线用户' })).toHaveText(
    new RegExp(`^在线用户 \\(节点 (${nodes.join('|')})\\)$`),
  );
});
