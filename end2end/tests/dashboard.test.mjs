// The dashboard end to end, in Chinese first as most operators use it: log in; add accounts
// pointing at the mock upstream; build a group; batch-create keys for orders from the trial
// preset and check the CSV; bind a key to the group; send traffic through the relay; watch the
// overview, usage and margin change; switch to English and back; use the keys page on a phone;
// look up a key on the public page. Screenshots of every page go to end2end/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { startTollgate } from '../lib/tollgate.mjs';
import { startMock } from '../lib/mock.mjs';
import { launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';

const MODEL = 'claude-sonnet-4-5-20250929';
const ORDERS = ['A1001', 'A1002', 'A1003', 'A1004', 'A1005'];

let tg;
let mock;
let browser;
let context;
let page;
let token;
let receiver;
const received = [];
const problems = [];

async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(`${tg.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/// Opens a dashboard page and waits until it is interactive.
async function open(path) {
  await page.goto(`${tg.url}${path}`);
  await waitForHydration(page);
}

async function toast(pattern) {
  const el = page.locator('[data-testid=toasts] .toast', { hasText: pattern }).first();
  await el.waitFor({ timeout: 15_000 });
  return el.textContent();
}

const number = (text) => Number(String(text).replace(/[^0-9.-]/g, ''));

function watch(p) {
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    // CSP violations are logged as console errors ("... violates the following Content Security
    // Policy directive ..."): every page must run under the dashboard's policy.
    if (m.type() === 'error' && /panicked|hydrat|Content Security Policy/i.test(m.text())) {
      problems.push(`console: ${m.text()}`);
    }
  });
}

before(async () => {
  // A webhook receiver that accepts everything.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ event: req.headers['x-tollgate-event'], body });
      res.end('ok');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  mock = await startMock();
  tg = await startTollgate({ TOLLGATE_TIMEZONE: 'Asia/Shanghai' });
  browser = await launchBrowser();
  context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  watch(page);
  const login = await fetch(`${tg.url}/admin/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: tg.username, password: tg.password }),
  });
  token = (await login.json()).token;
  // Big answers, so a handful of requests cost visible money.
  for (const credential of ['sk-mock-a', 'sk-mock-b']) {
    await mock.setBehavior(credential, { usage: { input: 100000, output: 20000 } });
  }
});

after(async () => {
  await browser?.close();
  await tg?.stop();
  await mock?.stop();
  receiver?.close();
});

test('an operator runs the shop from the dashboard', async () => {
  // Log in (in Chinese: the browser asks for zh-CN).
  await page.goto(`${tg.url}/`);
  await page.waitForURL(/\/login$/);
  await waitForHydration(page);
  await page.fill('#username', tg.username);
  await page.fill('#password', tg.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${tg.url}/`);
  await waitForHydration(page);
  assert.equal(await page.textContent('h1'), '概览');
  await page.waitForSelector('[data-testid=today-requests] .stat-value:text-matches("^[0-9]")');
  assert.equal(number(await page.textContent('[data-testid=today-requests] .stat-value')), 0);

  // Settings: the shop sells in CNY at 7.2 per USD.
  await open('/settings');
  await page.fill('#op-currency', 'CNY');
  await page.fill('#op-rate', '7.2');
  await page.click('[data-testid=operator-form] button[type=submit]');
  await toast('币种已保存');
  // A price override through the form.
  await page.fill('#pf-model', 'house-model');
  for (const [id, v] of [['pf-input', '1'], ['pf-output', '5'], ['pf-cw5', '1.25'], ['pf-cw1h', '2'], ['pf-cr', '0.1']]) {
    await page.fill(`#${id}`, v);
  }
  await page.click('[data-testid=price-form] button[type=submit]');
  await toast('价格已保存');
  await page.waitForSelector('[data-testid=price-overrides] td:text("house-model")');
  // A webhook target, a test send with its result inline, and the delivery log.
  await page.click('[data-testid=add-webhook]');
  await page.fill('#wf-name', 'shop-bot');
  await page.fill('#wf-url', `http://127.0.0.1:${receiver.address().port}/hook`);
  await page.click('[data-testid=webhook-form] button[type=submit]');
  await toast('目标已添加');
  await page.locator('[data-testid=webhook-target]', { hasText: 'shop-bot' }).locator('[data-testid=webhook-test]').click();
  assert.match(await page.locator('[data-testid=webhook-test-result]').textContent({ timeout: 20_000 }), /已送达/);
  await page.waitForSelector('[data-testid=deliveries] td code:text("test")');
  assert.equal(received.at(-1).event, 'test');
  await screenshot(page, 'dashboard-settings');

  // Accounts: one through the form, one through the REST API; both group accounts on the mock.
  await open('/accounts');
  await page.waitForSelector('[data-testid=empty]');
  await page.click('[data-testid=add-account]');
  await page.fill('#af-name', 'mock-a');
  await page.selectOption('#af-type', 'group');
  await page.fill('#af-key', 'sk-mock-a');
  await page.fill('#af-base', mock.url);
  await page.fill('#af-max', '5');
  await page.fill('#af-cost', '31');
  await page.click('[data-testid=account-save]');
  await toast('账户已添加');
  const b = await api('/admin/accounts', {
    method: 'POST',
    body: { name: 'mock-b', platform: 'claude', accountType: 'group', apiKey: 'sk-mock-b', baseUrl: mock.url, monthlyCost: 62 },
  });
  assert.equal(b.status, 201, JSON.stringify(b.body));
  await open('/accounts');
  assert.equal(await page.locator('[data-testid=account-row]').count(), 2);
  assert.doesNotMatch(await page.content(), /sk-mock-a/, 'the secret is never rendered');
  await page.locator('[data-testid=account-row]', { hasText: 'mock-a' }).locator('[data-testid=account-test]').click();
  assert.match(await page.locator('[data-testid=account-test-result]').first().textContent({ timeout: 20_000 }), /测试通过/);
  await screenshot(page, 'dashboard-accounts');

  // Groups: create one and assign both accounts with the checklist.
  await open('/groups');
  await page.fill('#gf-name', 'VIP');
  await page.fill('#gf-desc', '大客户');
  await page.click('[data-testid=group-form] button[type=submit]');
  await toast('分组已创建');
  const card = page.locator('[data-testid=group-card]', { hasText: 'VIP' });
  await card.waitFor();
  const boxes = card.locator('[data-testid=member-checkbox]');
  assert.equal(await boxes.count(), 2);
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await card.locator('[data-testid=save-members]').click();
  await toast('成员已保存');
  const group = (await api('/admin/account-groups')).body.find((g) => g.name === 'VIP');
  assert.equal(group.accountIds.length, 2);

  // Keys: 5 keys for pasted order numbers from the trial preset, shown once, as CSV.
  await open('/keys');
  await page.click('[data-testid=new-batch]');
  assert.equal(await page.inputValue('#bk-preset'), 'preset-trial');
  assert.equal(await page.inputValue('#bk-template'), '20刀体验_[订单号]');
  await page.fill('#bk-orders', ORDERS.join('\n'));
  await page.fill('#bk-price', '35');
  assert.match(await page.textContent('[data-testid=batch-planned]'), /5/);
  await page.click('[data-testid=batch-form] button[type=submit]');
  await page.waitForSelector('[data-testid=created-dialog]');
  assert.equal(await page.locator('[data-testid=created-key]').count(), 5);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-csv]')]);
  const csv = readFileSync(await download.path(), 'utf8').replace(/^\uFEFF/, '');
  const rows = csv.trim().split(/\r?\n/).map((line) => line.split(','));
  assert.deepEqual(rows[0], ['name', 'key', 'id', 'expiresAt', 'quotaLimit']);
  assert.equal(rows.length, 6);
  assert.deepEqual(rows.slice(1).map((r) => r[0]).sort(), ORDERS.map((o) => `20刀体验_${o}`));
  for (const r of rows.slice(1)) {
    assert.match(r[1], /^tg_[A-Za-z0-9_-]{43}$/);
    assert.equal(r[4], '20');
  }
  const keyOf = Object.fromEntries(rows.slice(1).map((r) => [r[0], r[1]]));
  await screenshot(page, 'dashboard-keys-created');
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=created-dialog]', { state: 'detached' });
  assert.doesNotMatch(await page.content(), /tg_[A-Za-z0-9_-]{43}/, 'keys are gone once the dialog closes');
  // One key on its own.
  await page.click('[data-testid=new-key]');
  await page.fill('#ck-name', 'single');
  await page.fill('#ck-quota', '5');
  await page.click('[data-testid=create-key-form] button[type=submit]');
  await page.waitForSelector('[data-testid=created-dialog]');
  assert.equal(await page.locator('[data-testid=created-key]').count(), 1);
  await page.keyboard.press('Escape');
  // Without JavaScript the list still reads: the server renders the rows.
  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const html = await (await fetch(`${tg.url}/keys?search=A100`, { headers: { cookie } })).text();
  assert.equal((html.match(/data-testid="key-row"/g) ?? []).length, 5);
  assert.doesNotMatch(html, /tg_[A-Za-z0-9_-]{43}/);

  // Bind the first key to the group in the edit form (picked from a list, not typed).
  await open('/keys?search=A1001');
  const row = page.locator('[data-testid=key-row]', { hasText: '20刀体验_A1001' });
  await row.locator('[data-testid=key-edit]').click();
  await page.selectOption('#ek-claude', `group:${group.id}`);
  await page.click('[data-testid=edit-key-save]');
  await toast('密钥已保存');
  const first = (await api('/admin/api-keys?search=A1001')).body.items[0];
  assert.equal(first.claudeAccountId, `group:${group.id}`);
  // The second key is bound through the API; the group card now lists both.
  const second = (await api('/admin/api-keys?search=A1002')).body.items[0];
  assert.equal((await api(`/admin/api-keys/${second.id}`, { method: 'PATCH', body: { claudeAccountId: `group:${group.id}` } })).status, 200);
  await open('/keys');
  await screenshot(page, 'dashboard-keys');
  await open('/groups');
  assert.equal(await page.locator('[data-testid=group-card] [data-testid=bound-keys] li').count(), 2);
  await screenshot(page, 'dashboard-groups');

  // Usage and margin before any traffic: sales but no cost, no usage.
  await open('/usage-report');
  await page.waitForSelector('[data-testid=usage-chart] .chart-empty');
  assert.match(await page.textContent('[data-testid=margin-revenue] .stat-value'), /¥175\.00/);
  assert.match(await page.textContent('[data-testid=margin-cost] .stat-value'), /¥0\.00/);

  // The overview is open while traffic flows: it must update without a reload.
  await open('/');
  await page.waitForSelector('[data-testid=today-requests] .stat-value:text-matches("^[0-9]")');
  const keysToday = number(await page.textContent('[data-testid=today-keys] .stat-value'));
  assert.equal(keysToday, 6, 'five for the orders and the single one');
  const traffic = [];
  for (let i = 0; i < 6; i++) {
    const key = keyOf[`20刀体验_${ORDERS[i % 2]}`];
    traffic.push(
      fetch(`${tg.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: `hello ${i}` }] }),
      }).then(async (r) => [r.status, await r.text()]),
    );
  }
  for (const [status, body] of await Promise.all(traffic)) assert.equal(status, 200, body);
  assert.equal((await mock.stats()).total >= 6, true);
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid=today-requests] .stat-value')?.textContent.replace(/[^0-9]/g, '')) >= 6,
    null,
    { timeout: 30_000 },
  );
  assert.ok(number(await page.textContent('[data-testid=live-rpm] .stat-value')) > 0);
  assert.match(await page.textContent('[data-testid=today-cost] .stat-value'), /^\$[1-9]/);
  assert.match(await page.textContent('[data-testid=pools]'), /VIP/);
  await screenshot(page, 'dashboard-overview');

  // The usage and margin charts now have data.
  await open('/usage-report?split=group');
  await page.waitForSelector('[data-testid=usage-chart] svg', { timeout: 20_000 });
  assert.match(await page.textContent('[data-testid=usage-table]'), /VIP/);
  await page.waitForSelector('[data-testid=margin-chart] svg');
  assert.ok(number(await page.textContent('[data-testid=margin-cost] .stat-value')) > 0);
  await open('/usage-report?split=model&basis=amortized');
  assert.match(await page.textContent('[data-testid=usage-table]'), new RegExp(MODEL));
  assert.ok(number(await page.textContent('[data-testid=margin-cost] .stat-value')) > 0, 'monthly cost is amortised');
  const [usageCsv] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=usage-csv]')]);
  assert.match(readFileSync(await usageCsv.path(), 'utf8'), new RegExp(`${MODEL},6,`));
  await screenshot(page, 'dashboard-usage-margin');

  // A key's usage panel.
  await open('/keys?search=A1001');
  await page.locator('[data-testid=key-row]').first().locator('[data-testid=key-usage]').click();
  await page.waitForSelector('[data-testid=usage-by-model] td:text("' + MODEL + '")');
  await page.keyboard.press('Escape');

  // English and back.
  await open('/usage-report');
  await page.click('[data-testid=lang-switch]');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await waitForHydration(page);
  assert.equal(await page.textContent('h1'), 'Usage & margin');
  await screenshot(page, 'dashboard-usage-margin-en');
  await page.click('[data-testid=lang-switch]');
  await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  await waitForHydration(page);
  assert.equal(await page.textContent('h1'), '用量与毛利');

  // A deleted key disappears after confirmation.
  await open('/keys?search=A1005');
  const victim = page.locator('[data-testid=key-row]').first();
  await victim.locator('[data-testid=key-delete]').click();
  await victim.locator('[data-testid=key-delete-confirm]').click();
  await toast('密钥已删除');
  await page.waitForSelector('[data-testid=key-row]', { state: 'detached' });

  // Presets are editable: add one.
  await page.click('[data-testid=presets]');
  await page.click('[data-testid=presets-dialog] .btn:text("添加预设")');
  await page.fill('#pr-name', 'Weekly');
  await page.fill('#pr-days', '7');
  await page.fill('#pr-quota', '50');
  await page.click('[data-testid=preset-form] button[type=submit]');
  await toast('预设已保存');
  await page.waitForSelector('[data-testid=preset-list] li:has-text("Weekly")');
  const weekly = (await api('/admin/key-presets')).body.find((p) => p.name === 'Weekly');
  assert.equal(weekly.validityDays, 7);
  assert.equal(weekly.settings.quotaLimit, 50);

  assert.deepEqual(problems, [], 'no panics, hydration errors or CSP violations in the browser');
});

test('the keys page works on a 375 px phone', async () => {
  const phone = await browser.newContext({
    locale: 'zh-CN',
    viewport: { width: 375, height: 812 },
    storageState: await context.storageState(),
  });
  const p = await phone.newPage();
  watch(p);
  await p.goto(`${tg.url}/keys`);
  await waitForHydration(p);
  await p.waitForSelector('[data-testid=key-row]');
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  await screenshot(p, 'dashboard-keys-375');
  await p.click('[data-testid=new-batch]');
  const box = await p.locator('[data-testid=batch-dialog]').boundingBox();
  assert.ok(box.width <= 375, `the dialog is ${box.width}px wide`);
  await p.fill('#bk-orders', 'M1\nM2');
  await p.click('[data-testid=batch-form] button[type=submit]');
  await p.waitForSelector('[data-testid=created-dialog]');
  assert.equal(await p.locator('[data-testid=created-key]').count(), 2);
  await screenshot(p, 'dashboard-keys-375-created');
  await phone.close();
  assert.deepEqual(problems, []);
});

test('a key holder looks up their own usage on the public page', async () => {
  const anon = await browser.newContext({ locale: 'en-US' });
  const p = await anon.newPage();
  watch(p);
  const holderKey = (await api('/admin/api-keys', { method: 'POST', body: { name: 'walk-in', quotaLimit: 20 } })).body.key;
  await p.goto(`${tg.url}/usage`);
  await waitForHydration(p);
  await p.fill('#holder-key', 'tg_not_a_real_key');
  await p.click('[data-testid=holder-form] button[type=submit]');
  assert.match(await p.textContent('[data-testid=holder-error]'), /No key matches/);
  await p.fill('#holder-key', holderKey);
  await p.click('[data-testid=holder-form] button[type=submit]');
  await p.waitForSelector('[data-testid=holder-result]');
  assert.match(await p.textContent('[data-testid=holder-result] h2'), /walk-in/);
  assert.match(await p.textContent('[data-testid=holder-remaining] .stat-value'), /\$20\.00/);
  await screenshot(p, 'dashboard-key-holder');
  // The admin pages stay closed to the same visitor.
  await p.goto(`${tg.url}/keys`);
  await p.waitForURL(/\/login$/);
  await anon.close();
  assert.deepEqual(problems, []);
});
