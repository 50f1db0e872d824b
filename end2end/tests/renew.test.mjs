// Renewals and budgets in the browser, in English: an operator renews a key from its row (the
// ledger shows the renewal, the key its new expiry, still a date as written), selects two keys
// and renews both at once, and the accounts page shows an account's budget (left of the limit,
// its state) and sets another account's budget and tops up a balance from the dialog; the
// budget column reads in Chinese too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate } from '../lib/tollgate.mjs';
import { launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';
import { adminApi } from '../lib/admin.mjs';

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

async function signIn(page) {
  await page.goto(`${tg.url}/login`);
  await waitForHydration(page);
  await page.fill('#username', tg.username);
  await page.fill('#password', tg.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${tg.url}/`);
}

test('a key is renewed from its page and two keys at once; accounts show budgets', async () => {
  const dated = await api('POST', '/admin/api-keys', { name: 'renew-me', expiresAt: '2030-01-10' });
  const a = await api('POST', '/admin/api-keys', { name: 'batch-a', presetId: 'preset-trial' });
  const b = await api('POST', '/admin/api-keys', { name: 'batch-b', presetId: 'preset-trial' });
  const funded = await api('POST', '/admin/accounts', { name: 'funded', apiKey: 'sk-ant-renew-test-0001' });
  await api('PATCH', `/admin/accounts/${funded.id}`, { budget: { kind: 'prepaid', amountUsd: 50 } });
  const bare = await api('POST', '/admin/accounts', { name: 'bare', apiKey: 'sk-ant-renew-test-0002' });

  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page);
  await signIn(page);

  // One key: its dialog shows where it stands; 30 days and a price renew it.
  await page.goto(`${tg.url}/keys`);
  await waitForHydration(page);
  const row = page.locator('[data-testid=key-row]', { hasText: 'renew-me' });
  await row.locator('[data-testid=key-renew]').click();
  const dialog = page.locator('[data-testid=renew-dialog]');
  await dialog.waitFor();
  assert.match(await dialog.locator('[data-testid=renew-standing]').textContent(), /2030-01-10/);
  assert.equal(await dialog.locator('[data-testid=ledger-row]').count(), 0);
  await dialog.locator('[data-testid=renew-days]').fill('30');
  await dialog.locator('[data-testid=renew-price]').fill('9.9');
  await dialog.locator('[data-testid=renew-note]').fill('second month');
  await dialog.locator('[data-testid=renew-submit]').click();
  await dialog.locator('[data-testid=ledger-row][data-kind=renewal]').waitFor({ timeout: 15_000 });
  const ledger = await dialog.locator('[data-testid=ledger-row]').first().textContent();
  assert.match(ledger, /Renewal/);
  assert.match(ledger, /\+30 days/);
  assert.match(ledger, /second month/);
  assert.match(ledger, /admin/);
  await page.waitForFunction(
    () => /2030-02-09/.test(document.querySelector('[data-testid=renew-standing]')?.textContent ?? ''),
    null,
    { timeout: 15_000 },
  );
  assert.equal((await api('GET', `/admin/api-keys/${dated.id}`)).expiresAt, '2030-02-09');
  await screenshot(page, 'renew-key');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  // The table shows the new expiry too.
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-testid=key-row]')].some((r) => /renew-me/.test(r.textContent) && /2030-02-09/.test(r.textContent)),
    null,
    { timeout: 15_000 },
  );

  // Two keys selected and renewed at once.
  const before = await Promise.all([a, b].map((k) => api('GET', `/admin/api-keys/${k.id}`)));
  for (const name of ['batch-a', 'batch-b']) {
    await page.locator('[data-testid=key-row]', { hasText: name }).locator('[data-testid=key-select]').check();
  }
  assert.match(await page.textContent('[data-testid=selection-count]'), /2 selected/);
  await page.click('[data-testid=batch-renew]');
  const batch = page.locator('[data-testid=batch-renew-dialog]');
  await batch.waitFor();
  await batch.locator('[data-testid=renew-days]').fill('7');
  await batch.locator('[data-testid=renew-quota]').fill('5');
  await batch.locator('[data-testid=batch-renew-submit]').click();
  await batch.locator('[data-testid=batch-renew-result] li').nth(1).waitFor({ timeout: 15_000 });
  const after = await Promise.all([a, b].map((k) => api('GET', `/admin/api-keys/${k.id}`)));
  for (let i = 0; i < 2; i++) {
    const added = Date.parse(after[i].expiresAt) - Date.parse(before[i].expiresAt);
    assert.equal(added, 7 * 86_400_000, 'seven days later');
    assert.equal(after[i].quotaLimit, before[i].quotaLimit + 5);
    const entries = await api('GET', `/admin/api-keys/${after[i].id}/ledger`);
    assert.deepEqual(entries.map((e) => e.kind), ['renewal']);
  }
  await screenshot(page, 'renew-batch');
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('[data-testid=selection-bar]').count(), 0, 'the selection is cleared');

  // Accounts: the budget column, then a budget set from the dialog.
  await page.goto(`${tg.url}/accounts`);
  await waitForHydration(page);
  const fundedRow = page.locator('[data-testid=account-row]', { hasText: 'funded' });
  const cell = fundedRow.locator('[data-testid=account-budget]');
  assert.equal(await cell.getAttribute('data-state'), 'ok');
  assert.match(await cell.textContent(), /\$50(\.00)? of \$50(\.00)? left/);
  const bareRow = page.locator('[data-testid=account-row]', { hasText: 'bare' });
  assert.equal(await bareRow.locator('[data-testid=account-budget]').getAttribute('data-state'), 'none');
  await bareRow.locator('[data-testid=account-budget-edit]').click();
  const budget = page.locator('[data-testid=budget-dialog]');
  await budget.waitFor();
  await budget.locator('#bf-kind').selectOption('monthly');
  await budget.locator('[data-testid=budget-amount]').fill('100');
  await budget.locator('#bf-reset').fill('5');
  await budget.locator('[data-testid=budget-save]').click();
  await budget.waitFor({ state: 'detached', timeout: 15_000 });
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-testid=account-row]')].some(
      (r) => /bare/.test(r.textContent) && r.querySelector('[data-testid=account-budget]')?.dataset.state === 'ok',
    ),
    null,
    { timeout: 15_000 },
  );
  const stored = await api('GET', `/admin/accounts/${bare.id}`);
  assert.equal(stored.budget.kind, 'monthly');
  assert.equal(stored.budget.amountUsd, 100);
  assert.equal(stored.budget.resetDay, 5);
  // A top-up of the prepaid balance from its dialog.
  await fundedRow.locator('[data-testid=account-budget-edit]').click();
  await budget.waitFor();
  await budget.locator('[data-testid=budget-top-up]').fill('25');
  await budget.locator('[data-testid=budget-top-up-submit]').click();
  await budget.waitFor({ state: 'detached', timeout: 15_000 });
  assert.equal((await api('GET', `/admin/accounts/${funded.id}`)).budget.topUpsUsd, 25);
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-testid=account-row]')].some((r) => /funded/.test(r.textContent) && /\$75/.test(r.textContent)),
    null,
    { timeout: 15_000 },
  );
  await screenshot(page, 'accounts-budgets');

  // In Chinese, the column and the ledger read in Chinese.
  const zh = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const zhPage = await zh.newPage();
  watch(zhPage);
  await signIn(zhPage);
  await zhPage.goto(`${tg.url}/accounts`);
  await waitForHydration(zhPage);
  assert.match(await zhPage.textContent('table.data-table thead'), /预算/);
  await zh.close();
  await context.close();
  assert.deepEqual(problems, []);
});
