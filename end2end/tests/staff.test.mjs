// Staff in a real browser: an admin creates a seller allowed one preset on the Staff page; the
// seller signs in, lands on their keys page, batch-creates three order keys from that preset,
// sees only those, and cannot open /accounts; the admin sees the three keys attributed to the
// seller and the seller's entries in the audit log. In Chinese, at a 375 px phone width for the
// seller.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate } from '../lib/tollgate.mjs';
import { adminApi } from '../lib/admin.mjs';
import { launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';
import { overflowProblems } from '../lib/overflow.mjs';

const SELLER = 'shop-seller-li';
const SELLER_PASSWORD = 'seller-password-2026';

let tg;
let browser;
let api;
const pageErrors = [];

function watch(p) {
  p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' && /panicked|hydrat/i.test(m.text())) pageErrors.push(`${p.url()}: ${m.text()}`);
  });
}

async function signIn(context, username, password) {
  const p = await context.newPage();
  watch(p);
  await p.goto(`${tg.url}/login`);
  await waitForHydration(p);
  await p.fill('#username', username);
  await p.fill('#password', password);
  await p.click('button[type=submit]');
  return p;
}

before(async () => {
  tg = await startTollgate();
  api = await adminApi(tg);
  // Two presets; the seller will be allowed only the first.
  await api('POST', '/admin/key-presets', { name: '体验卡 Trial', validityDays: 7, settings: { quotaLimit: 2, salePrice: 9.9, currency: 'USD' } });
  await api('POST', '/admin/key-presets', { name: '月卡 Monthly', validityDays: 30, settings: { quotaLimit: 20, salePrice: 99, currency: 'USD' } });
  // A key of the admin's own, which the seller must not see.
  const monthly = (await api('GET', '/admin/key-presets')).find((p) => p.name.startsWith('月卡'));
  await api('POST', '/admin/api-keys', { name: 'admin-own-key', presetId: monthly.id });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await tg?.stop();
});

test('admin creates a seller; the seller sells three order keys and sees only those', async () => {
  // The admin, on the Staff page, creates the seller with one preset.
  const adminCtx = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const a = await signIn(adminCtx, tg.username, tg.password);
  await a.waitForURL(`${tg.url}/`);
  await a.goto(`${tg.url}/users`);
  await waitForHydration(a);
  await a.waitForSelector('[data-testid=user-row]');
  await a.click('[data-testid=new-user]');
  await a.fill('[data-testid=user-username]', SELLER);
  await a.selectOption('[data-testid=user-role]', 'seller');
  await a.fill('#u-password', SELLER_PASSWORD);
  await a.locator('label.check', { hasText: '体验卡 Trial' }).locator('input').check();
  await a.click('[data-testid=user-save]');
  await a.waitForSelector(`[data-testid=user-row][data-username=${SELLER}]`);
  const row = a.locator(`[data-testid=user-row][data-username=${SELLER}]`);
  assert.match(await row.innerText(), /Seller/);
  assert.match(await row.innerText(), /体验卡 Trial/);
  assert.doesNotMatch(await row.innerText(), /月卡/);
  await screenshot(a, 'staff-users');

  // The seller signs in (Chinese, phone width) and lands on the keys page.
  const sellerCtx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 } });
  const s = await signIn(sellerCtx, SELLER, SELLER_PASSWORD);
  await s.waitForURL(`${tg.url}/keys`);
  await waitForHydration(s);
  // Only their pages in the navigation; no presets editor, no single free-form key.
  // The links follow the signed-in user's role (a resource that may resolve after hydration);
  // the drawer is closed at phone width, so the links are attached but not visible.
  await s.waitForSelector('[data-testid=nav] .nav-link', { state: 'attached' });
  const nav = await s.locator('[data-testid=nav]').innerText();
  assert.match(nav, /API 密钥/);
  assert.match(nav, /我的账号/);
  assert.doesNotMatch(nav, /上游账户|员工|设置|概览/);
  assert.equal(await s.locator('[data-testid=presets]').count(), 0);
  assert.equal(await s.locator('[data-testid=key-row]').count(), 0, 'the admin\'s key is not theirs');

  // A batch for three orders from the one preset they may sell.
  await s.click('[data-testid=new-batch]');
  await s.waitForSelector('[data-testid=batch-form]');
  const options = await s.locator('#bk-preset option').allInnerTexts();
  assert.ok(options.some((o) => o.includes('体验卡')), options.join());
  assert.ok(!options.some((o) => o.includes('月卡')), options.join());
  assert.equal(await s.locator('#bk-price').count(), 0, 'no price field for sellers');
  await s.fill('#bk-orders', 'TB-1001\nTB-1002\nTB-1003');
  await s.click('[data-testid=batch-form] button[type=submit]');
  await s.waitForSelector('[data-testid=created-dialog]');
  await s.keyboard.press('Escape');
  await s.goto(`${tg.url}/keys`);
  await waitForHydration(s);
  await s.waitForSelector('[data-testid=key-row]');
  assert.equal(await s.locator('[data-testid=key-row]').count(), 3);
  const names = await s.locator('[data-testid=key-row] .strong').allInnerTexts();
  assert.ok(names.every((n) => /TB-100[123]/.test(n)), names.join());
  assert.deepEqual(await overflowProblems(s), [], 'the seller\'s keys page fits 375 px');
  await screenshot(s, 'staff-seller-keys-375');

  // /accounts is not theirs: back to their keys page; its data is refused too.
  await s.goto(`${tg.url}/accounts`);
  assert.equal(new URL(s.url()).pathname, '/keys');
  const refused = await s.evaluate(async () => (await fetch('/admin/accounts')).status);
  assert.equal(refused, 403);

  // The admin sees the three keys attributed to the seller, and filters by them.
  const users = await api('GET', '/admin/users');
  const seller = users.find((u) => u.username === SELLER);
  await a.goto(`${tg.url}/keys?created_by=${seller.id}`);
  await waitForHydration(a);
  await a.waitForSelector('[data-testid=key-row]');
  assert.equal(await a.locator('[data-testid=key-row]').count(), 3);
  const creators = await a.locator('[data-testid=key-created-by]').allInnerTexts();
  assert.deepEqual(creators, [SELLER, SELLER, SELLER]);
  // And the seller's entries in the audit log: the sign-in and three keys created.
  await a.goto(`${tg.url}/audit?user=${seller.id}`);
  await waitForHydration(a);
  await a.waitForSelector('[data-testid=audit-row]');
  const actions = await a.locator('[data-testid=audit-row]').evaluateAll((rows) => rows.map((r) => r.dataset.action));
  assert.equal(actions.filter((x) => x === 'key.create').length, 3, actions.join());
  assert.ok(actions.includes('login'), actions.join());
  const who = await a.locator('[data-testid=audit-who]').allInnerTexts();
  assert.ok(who.every((w) => w === SELLER), who.join());
  // The admin's own creation of the seller is there too, the password only as "changed".
  await a.goto(`${tg.url}/audit?action=user.create`);
  await waitForHydration(a);
  await a.waitForSelector('[data-testid=audit-row]');
  const text = await a.locator('[data-testid=audit-table]').innerText();
  assert.match(text, new RegExp(SELLER));
  assert.match(text, /changed/);
  assert.doesNotMatch(text, new RegExp(SELLER_PASSWORD));
  await screenshot(a, 'staff-audit');
  const csv = await a.evaluate(async () => (await fetch('/admin/audit-events?format=csv')).text());
  assert.match(csv, /^time,userId,user,from,action/);

  await adminCtx.close();
  await sellerCtx.close();
  assert.deepEqual(pageErrors, [], 'no panics or hydration errors in the browser');
});
