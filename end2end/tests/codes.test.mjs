// Redemption codes in the browser, in Chinese: an operator creates codes from the trial preset
// on the codes page and exports them (CSV and TXT); someone without a key redeems one on the
// public /redeem page and gets a new key, shown once; a key holder redeems another on /usage and
// sees the balance rise. Then both public pages at a 375 px phone: nothing scrolls sideways.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTollgate } from '../lib/tollgate.mjs';
import { launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';
import { adminApi } from '../lib/admin.mjs';
import { overflowProblems } from '../lib/overflow.mjs';

let tg;
let browser;
let api;
const problems = [];

function watch(p) {
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' && /panicked|hydrat|Content Security Policy/i.test(m.text())) {
      problems.push(`console: ${m.text()}`);
    }
  });
}

before(async () => {
  tg = await startTollgate({ TOLLGATE_TIMEZONE: 'Asia/Shanghai' });
  browser = await launchBrowser();
  api = await adminApi(tg);
});

after(async () => {
  await browser?.close();
  await tg?.stop();
});

const number = (text) => Number(String(text).replace(/[^0-9.-]/g, ''));

test('codes are created, exported and redeemed for a new key and onto a key', async () => {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  watch(page);
  await page.goto(`${tg.url}/login`);
  await waitForHydration(page);
  await page.fill('#username', tg.username);
  await page.fill('#password', tg.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${tg.url}/`);

  // Three codes from the trial preset ($20, 7 days).
  await page.goto(`${tg.url}/codes`);
  await waitForHydration(page);
  assert.equal(await page.textContent('h1'), '卡密');
  await page.waitForSelector('#cc-preset option[value=preset-trial]', { state: 'attached' });
  await page.selectOption('#cc-preset', 'preset-trial');
  await page.fill('#cc-count', '3');
  await page.fill('#cc-price', '9.9');
  await page.click('[data-testid=codes-create]');
  await page.waitForSelector('[data-testid=codes-created] [data-testid=created-code]');
  const shown = await page.locator('[data-testid=created-code]').allTextContents();
  assert.equal(shown.length, 3);
  for (const c of shown) assert.match(c, /^([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}$/);

  const [csvFile] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=codes-export-csv]')]);
  const csv = readFileSync(await csvFile.path(), 'utf8').replace(/^\uFEFF/, '').trim().split(/\r?\n/);
  assert.equal(csv[0], 'code,id,orderNumber,quotaUsd,days,salePrice,currency,redeemBy');
  assert.deepEqual(csv.slice(1).map((l) => l.split(',')[0]), shown);
  assert.equal(csv[1].split(',')[3], '20');
  const [txtFile] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=codes-export-txt]')]);
  assert.deepEqual(readFileSync(await txtFile.path(), 'utf8').trim().split('\n'), shown);
  await page.waitForSelector('[data-testid=code-row]');
  assert.equal(await page.locator('[data-testid=code-row]').count(), 3);
  await screenshot(page, 'codes');

  // Someone without a key: /redeem (public, a fresh browser without the session).
  const visitor = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 800 } });
  const pub = await visitor.newPage();
  watch(pub);
  await pub.goto(`${tg.url}/redeem`);
  await waitForHydration(pub);
  assert.equal(await pub.textContent('h1'), '兑换卡密');
  await pub.fill('#redeem-code', shown[0].toLowerCase());
  await pub.click('[data-testid=redeem-form] button[type=submit]');
  const newKey = (await pub.textContent('[data-testid=redeemed-key]', { timeout: 15_000 })).trim();
  assert.match(newKey, /^tg_/);
  assert.deepEqual(await overflowProblems(pub), []);
  await screenshot(pub, 'redeem-375');
  // Shown once: the same code again is refused.
  await pub.goto(`${tg.url}/redeem`);
  await waitForHydration(pub);
  await pub.fill('#redeem-code', shown[0]);
  await pub.click('[data-testid=redeem-form] button[type=submit]');
  assert.match(await pub.textContent('[data-testid=redeem-error]', { timeout: 15_000 }), /already been redeemed/);

  // A key holder: the new key's balance on /usage, then another code onto it.
  await pub.goto(`${tg.url}/usage`);
  await waitForHydration(pub);
  await pub.fill('#holder-key', newKey);
  await pub.click('[data-testid=holder-form] button[type=submit]');
  const before = number(await pub.textContent('[data-testid=holder-remaining] .stat-value', { timeout: 15_000 }));
  assert.equal(before, 20);
  await pub.fill('#holder-code', shown[1]);
  await pub.click('[data-testid=holder-redeem-form] button[type=submit]');
  await pub.waitForSelector('[data-testid=holder-redeemed]', { timeout: 15_000 });
  await pub.waitForFunction(
    () => Number(document.querySelector('[data-testid=holder-remaining] .stat-value')?.textContent.replace(/[^0-9.-]/g, '')) === 40,
    null,
    { timeout: 15_000 },
  );
  assert.deepEqual(await overflowProblems(pub), []);
  await screenshot(pub, 'usage-redeem-375');

  // The codes page shows two redeemed, one unused; the ledger has the redemption.
  const page2 = await api('GET', '/admin/redemption-codes?status=redeemed');
  assert.equal(page2.total, 2);
  await visitor.close();
  await context.close();
  assert.deepEqual(problems, []);
});
