/**
 * axe-core, the accessibility engine, run in the page under test.
 *
 * The engine's source is evaluated in the page (like `@axe-core/playwright` does), so the app's
 * Content-Security-Policy, which allows no inline or foreign scripts, does not stop it. We use
 * `axe-core` directly rather than that wrapper: the wrapper's current release requires Node 22,
 * and these machines run Node 20.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Page, TestInfo } from '@playwright/test';

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** WCAG 2.0/2.1 A and AA rules, plus axe's best practices (landmarks, one h1, …). */
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

export interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe on the page as it is now, attaches the whole result to the report as `axe-<name>.json`,
 * and returns the violations of impact serious or critical, each summarised as one line.
 */
export async function seriousViolations(page: Page, testInfo: TestInfo, name: string): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async (tags) => {
    // @ts-expect-error injected above
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return { violations: r.violations as Violation[], url: r.url as string };
  }, TAGS);
  const file = testInfo.outputPath(`axe-${name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  await testInfo.attach(`axe-${name}.json`, { path: file, contentType: 'application/json' });
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 6).join(' | ')}`);
}

/** Every violation of any impact, summarised (for the report; minor ones do not fail a test). */
export async function allViolations(page: Page): Promise<string[]> {
  const result = await page.evaluate(async (tags) => {
    // @ts-expect-error injected by seriousViolations
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations as Violation[];
  }, TAGS);
  return result.map((v) => `${v.impact} ${v.id}: ${v.nodes.length}`);
}
