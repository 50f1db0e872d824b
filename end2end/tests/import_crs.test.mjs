// Settings → Import on a 375 px phone, in Chinese: load the CRS 1.1.314 fixture into a Redis
// database of its own (with the fixture's load_redis.py), preview (nothing written), import,
// then look an old cr_ key up on the public key holder page. A second preview says nothing
// would change. Screenshots go to end2end/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTollgate } from '../lib/tollgate.mjs';
import { artifactsDir, launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';

const REDIS_DB = 14;
const CRS_KEY = 'CRSfixtureEncKey-1.1.314-test-01';
const ENTERPRISE_KEY = 'cr_f1efc8dd80f5b8da54dac34dda3f76ded3a01ce1d0f0f414473ae89e475e7027';

const repo = resolve(fileURLToPath(import.meta.url), '../../..');
const fixtureDir =
  process.env.CRS_FIXTURE_DIR ??
  ['..', '../..'].map((up) => join(repo, up, 'shared/fixtures/crs-1.1.314')).find((d) => existsSync(join(d, 'load_redis.py')));

let tg;
let browser;
let page;
const problems = [];

before(async () => {
  assert.ok(fixtureDir, 'the CRS fixture (shared/fixtures/crs-1.1.314) was not found; set CRS_FIXTURE_DIR');
  execFileSync('python3', [join(fixtureDir, 'load_redis.py'), '--port', '6379', '--db', String(REDIS_DB), '--flush', join(fixtureDir, 'redis-dump.json')]);
  tg = await startTollgate();
  browser = await launchBrowser();
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 } });
  page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /panicked|hydrat/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
});

after(async () => {
  await browser?.close();
  await tg?.stop();
});

async function preview() {
  await page.click('[data-testid=import-form] button[type=submit]');
  await page.waitForSelector('[data-testid=import-report] h3:text("预览：尚未写入任何数据")', { timeout: 60_000 });
}

test('an operator imports a CRS on a phone, previewing first', async () => {
  await page.goto(`${tg.url}/login`);
  await waitForHydration(page);
  await page.fill('#username', tg.username);
  await page.fill('#password', tg.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${tg.url}/`);
  await page.goto(`${tg.url}/settings#import-heading`);
  await waitForHydration(page);
  await page.fill('#imp-redis', `redis://127.0.0.1:6379/${REDIS_DB}`);
  await page.fill('#imp-key', CRS_KEY);
  assert.ok(await page.isDisabled('[data-testid=import-run]'), 'import needs a preview first');
  await preview();
  const counts = await page.textContent('[data-testid=import-counts]');
  assert.match(counts, /新导入/);
  assert.match(await page.textContent('[data-testid=import-report]'), /导入将修改数据库/);
  assert.match(await page.textContent('[data-testid=import-items]'), /受限_M4001[\s\S]*模型黑名单未迁移/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  await screenshot(page, 'import-crs-375-preview');
  // Nothing was written by the preview: the old key is still unknown.
  const before = await fetch(`${tg.url}/v1/usage`, { headers: { 'x-api-key': ENTERPRISE_KEY } });
  assert.equal(before.status, 401);

  await page.click('[data-testid=import-run]');
  await page.waitForSelector('[data-testid=import-report] h3:text("导入结果")', { timeout: 60_000 });
  assert.match(await page.textContent('[data-testid=import-report]'), /已写入变更/);
  await screenshot(page, 'import-crs-375-result');
  await page.locator('[data-testid=import-section]').screenshot({ path: join(artifactsDir, 'import-crs-375-section.png') });
  const after = await fetch(`${tg.url}/v1/usage`, { headers: { 'x-api-key': ENTERPRISE_KEY } });
  assert.equal(after.status, 200);
  assert.equal((await after.json()).name, '企业客户_001');

  // Running it again would change nothing.
  await preview();
  assert.match(await page.textContent('[data-testid=import-report]'), /已是最新/);
  assert.deepEqual(problems, [], 'no panics or hydration errors in the browser');
});
