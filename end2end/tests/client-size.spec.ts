/**
 * The client's size on the wire, as a budget: everything the first page load fetches (index.html,
 * the JS module, the wasm, the stylesheet, the icon) requested with `Accept-Encoding: br` must come
 * brotli-encoded and add up to at most 400 KiB. The gzip and uncompressed sizes go into the report
 * (attachment `client-size`) and test-results/client-size.json.
 *
 * Raw HTTP (node:http), not the browser or Playwright's request API, so the bytes counted are the
 * bytes sent, before any decoding.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { test, expect } from '../support/fixtures';

const BUDGET_BYTES = 400 * 1024;

type Raw = { status: number; headers: http.IncomingHttpHeaders; bytes: Buffer };

function rawGet(url: string, acceptEncoding?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = acceptEncoding ? { 'accept-encoding': acceptEncoding } : {};
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** The same-origin files index.html makes the browser fetch, by role. */
function assetsOf(html: string): { role: string; url: string }[] {
  const found: { role: string; url: string }[] = [];
  const add = (role: string, url: string | undefined) => {
    if (url && url.startsWith('/') && !found.some((f) => f.url === url)) found.push({ role, url });
  };
  add('module', html.match(/import\s+init[^'"]*from\s+['"]([^'"]+\.js)['"]/)?.[1]);
  add('wasm', html.match(/module_or_path:\s*['"]([^'"]+\.wasm)['"]/)?.[1]);
  for (const m of html.matchAll(/<link\b[^>]*>/g)) {
    const tag = m[0];
    const rel = tag.match(/\brel=["']([^"']+)["']/)?.[1] ?? '';
    const href = tag.match(/\bhref=["']([^"']+)["']/)?.[1];
    if (rel === 'stylesheet') add('css', href);
    else if (rel.split(/\s+/).includes('icon')) add('icon', href);
  }
  return found;
}

test('the client fits the size budget, brotli-encoded', async ({ baseURL }, testInfo) => {
  const index = await rawGet(`${baseURL}/`);
  expect(index.status).toBe(200);
  const assets = assetsOf(index.bytes.toString('utf8'));
  // The four kinds Trunk writes; a parse that finds fewer would make the budget meaningless.
  expect(assets.map((a) => a.role).sort()).toEqual(['css', 'icon', 'module', 'wasm']);

  const rows: { role: string; url: string; br: number; gzip: number; raw: number; encoding: string }[] = [];
  for (const { role, url } of [{ role: 'html', url: '/' }, ...assets]) {
    const br = await rawGet(`${baseURL}${url}`, 'br');
    const gz = await rawGet(`${baseURL}${url}`, 'gzip');
    const raw = await rawGet(`${baseURL}${url}`);
    for (const r of [br, gz, raw]) expect(r.status, url).toBe(200);
    expect(gz.headers['content-encoding'], `${url} with gzip`).toBe('gzip');
    expect(raw.headers['content-encoding'], `${url} without Accept-Encoding`).toBeUndefined();
    rows.push({
      role,
      url,
      br: br.bytes.length,
      gzip: gz.bytes.length,
      raw: raw.bytes.length,
      encoding: String(br.headers['content-encoding'] ?? 'identity'),
    });
  }
  const total = (k: 'br' | 'gzip' | 'raw') => rows.reduce((s, r) => s + r[k], 0);
  const report = {
    budget_bytes: BUDGET_BYTES,
    total_br_bytes: total('br'),
    total_gzip_bytes: total('gzip'),
    total_raw_bytes: total('raw'),
    files: rows,
  };
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  for (const r of rows) console.log(`client-size: ${r.role} ${r.url}: br ${kib(r.br)} (${r.encoding}), gzip ${kib(r.gzip)}, raw ${kib(r.raw)}`);
  console.log(`client-size: total br ${kib(report.total_br_bytes)}, gzip ${kib(report.total_gzip_bytes)}, raw ${kib(report.total_raw_bytes)} (budget ${kib(BUDGET_BYTES)} br)`);
  await testInfo.attach('client-size', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
  fs.mkdirSync(path.join(__dirname, '..', 'test-results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, '..', 'test-results', 'client-size.json'), JSON.stringify(report, null, 2));
  testInfo.annotations.push({
    type: 'client size',
    description: `br ${kib(report.total_br_bytes)}, gzip ${kib(report.total_gzip_bytes)}, raw ${kib(report.total_raw_bytes)}`,
  });

  for (const r of rows) expect(r.encoding, `${r.url} with Accept-Encoding: br`).toBe('br');
  expect(report.total_br_bytes).toBeLessThanOrEqual(BUDGET_BYTES);
});
