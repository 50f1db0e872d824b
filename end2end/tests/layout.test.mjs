// Every dashboard page, the public key lookup and the login page, filled with a realistic shop
// (long names, several platforms, charts with data), at a 375 px phone, a 1024 px small laptop
// and a 1280 px desktop window, in Chinese and in English: nothing may scroll sideways or be cut
// off. Tables fit the desktop windows and become cards on the phone. Screenshots go to end2end/artifacts/layout-*.
// Then the browser-facing routes with odd query strings: a page or a redirect, never an
// extractor's raw error text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startTollgate } from '../lib/tollgate.mjs';
import { startMock } from '../lib/mock.mjs';
import { launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';
import { overflowProblems } from '../lib/overflow.mjs';
import { LONG_KEY, stockShop } from '../lib/shop.mjs';

const WIDTHS = [375, 1024, 1280];
const LOCALES = ['zh-CN', 'en-US'];

/// Signed-in pages: where, and what shows once the page has its data.
const PAGES = [
  { name: 'overview', path: '/', ready: ['[data-testid=pools] table', '[data-testid=preset-spend] table', '[data-testid=today-cost] .stat-value:text-matches("[0-9]")'] },
  { name: 'keys', path: '/keys', ready: ['[data-testid=key-row]'] },
  {
    name: 'key-usage',
    path: `/keys?search=${encodeURIComponent(LONG_KEY)}`,
    ready: ['[data-testid=key-row]'],
    then: async (p) => {
      await p.locator('[data-testid=key-row] [data-testid=key-usage]').first().click();
      await p.waitForSelector('[data-testid=usage-by-model] td');
    },
  },
  { name: 'accounts', path: '/accounts', ready: ['[data-testid=account-row]'] },
  {
    name: 'account-edit',
    path: '/accounts',
    ready: ['[data-testid=account-row]'],
    then: async (p) => {
      await p.locator('[data-testid=account-row] [data-testid=account-edit]').first().click();
      await p.waitForSelector('[data-testid=account-save]');
    },
  },
  {
    name: 'keys-created',
    path: '/keys',
    ready: ['[data-testid=key-row]'],
    then: async (p) => {
      await p.click('[data-testid=new-key]');
      await p.fill('#ck-name', '新客户_订单号20260302-0042_深圳某某网络科技有限公司');
      await p.click('[data-testid=create-key-form] button[type=submit]');
      await p.waitForSelector('[data-testid=created-dialog] [data-testid=created-key]');
    },
  },
  {
    name: 'codes',
    path: '/codes',
    ready: ['#cc-preset'],
    then: async (p) => {
      await p.waitForSelector('#cc-preset option[value=preset-trial]', { state: 'attached' });
      await p.fill('#cc-count', '2');
      await p.fill('#cc-orders', '订单号20260302-0042_深圳某某网络科技有限公司\nA1002');
      await p.click('[data-testid=codes-create]');
      await p.waitForSelector('[data-testid=codes-created] [data-testid=created-code]');
      await p.waitForSelector('[data-testid=code-row]');
    },
  },
  { name: 'groups', path: '/groups', ready: ['[data-testid=group-card] [data-testid=bound-keys] li'] },
  { name: 'usage-report', path: '/usage-report', ready: ['[data-testid=usage-chart] svg', '[data-testid=margin-chart] svg', '[data-testid=margin-presets-chart] svg'] },
  { name: 'usage-report-groups', path: '/usage-report?split=group&basis=amortized', ready: ['[data-testid=usage-chart] svg', '[data-testid=margin-groups-chart] svg'] },
  {
    name: 'settings',
    path: '/settings',
    ready: ['[data-testid=price-overrides] td', '[data-testid=deliveries] td'],
    // The whole price list too.
    then: (p) => p.click('.catalog summary'),
  },
  { name: 'users', path: '/users', ready: ['[data-testid=user-row]'] },
  { name: 'audit', path: '/audit', ready: ['[data-testid=audit-row]'] },
  {
    name: 'account',
    path: '/account',
    ready: ['[data-testid=totp-section]'],
    // The second factor's set-up: QR code and secret (not turned on: no code is confirmed).
    then: async (p) => {
      await p.click('[data-testid=totp-begin]');
      await p.waitForSelector('[data-testid=totp-secret]');
    },
  },
  { name: 'not-found', path: '/no-such-page', ready: ['h1'] },
];

let tg;
let mock;
let browser;
let receiver;
let holderKey;
let signedIn;
const pageErrors = [];

function watch(p) {
  p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' && /panicked|hydrat/i.test(m.text())) pageErrors.push(`${p.url()}: ${m.text()}`);
  });
}

before(async () => {
  receiver = createServer((req, res) => req.resume().on('end', () => res.end('ok')));
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  mock = await startMock();
  tg = await startTollgate({ TOLLGATE_TIMEZONE: 'Asia/Shanghai' });
  ({ holderKey } = await stockShop(tg, mock, `http://127.0.0.1:${receiver.address().port}`));
  browser = await launchBrowser();
  // Sign in once through the form; every context below reuses the session cookie.
  const context = await browser.newContext();
  const p = await context.newPage();
  await p.goto(`${tg.url}/login`);
  await waitForHydration(p);
  await p.fill('#username', tg.username);
  await p.fill('#password', tg.password);
  await p.click('button[type=submit]');
  await p.waitForURL(`${tg.url}/`);
  signedIn = await context.storageState();
  await context.close();
});

after(async () => {
  await browser?.close();
  await tg?.stop();
  await mock?.stop();
  receiver?.close();
});

/// Opens `path` in `p`, waits for its data, checks it and saves a screenshot.
async function check(p, tag, { name, path, ready = [], then }) {
  await p.goto(`${tg.url}${path}`);
  await waitForHydration(p);
  for (const selector of ready) await p.waitForSelector(selector, { timeout: 20_000 });
  if (then) await then(p);
  // Charts size themselves from their box once mounted; let a frame pass.
  await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await screenshot(p, `layout-${tag}-${name}`);
  return (await overflowProblems(p)).map((problem) => `${tag} ${path}: ${problem}`);
}

for (const locale of LOCALES) {
  for (const width of WIDTHS) {
    const tag = `${locale}-${width}`;
    test(`no page scrolls sideways or cuts a table off at ${width} px in ${locale}`, async () => {
      const viewport = { width, height: width < 600 ? 812 : 900 };
      const problems = [];

      const anon = await browser.newContext({ locale, viewport });
      const a = await anon.newPage();
      watch(a);
      problems.push(...(await check(a, tag, { name: 'login', path: '/login', ready: ['#username'] })));
      problems.push(
        ...(await check(a, tag, {
          name: 'key-holder',
          path: '/usage',
          ready: ['#holder-key'],
          then: async (page) => {
            await page.fill('#holder-key', holderKey);
            await page.click('[data-testid=holder-form] button[type=submit]');
            await page.waitForSelector('[data-testid=holder-result]');
          },
        })),
      );
      problems.push(...(await check(a, tag, { name: 'redeem', path: '/redeem', ready: ['#redeem-code'] })));
      await anon.close();

      const staff = await browser.newContext({ locale, viewport, storageState: signedIn });
      const s = await staff.newPage();
      watch(s);
      for (const page of PAGES) problems.push(...(await check(s, tag, page)));
      await staff.close();

      assert.deepEqual(problems, [], `sideways overflow:\n${problems.join('\n')}`);
      assert.deepEqual(pageErrors, [], 'no panics or hydration errors in the browser');
    });
  }
}

test('browser-facing routes answer odd query strings with a page or a redirect', async () => {
  const cookie = signedIn.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const get = (path, headers = {}) => fetch(`${tg.url}${path}`, { redirect: 'manual', headers: { cookie, ...headers } });
  const back = `${tg.url}/usage-report?split=group&basis=amortized`;

  // The language switch without (or with a broken) `set` goes back where it came from.
  for (const path of ['/lang', '/lang?set=', '/lang?set=klingon', '/lang?lang=en', '/lang?set=%ZZ', '/lang?set=en&set=zh-CN']) {
    const res = await get(path, { referer: back });
    const body = await res.text();
    assert.equal(res.status, 303, `${path}: ${res.status} ${body}`);
    assert.equal(res.headers.get('location'), '/usage-report?split=group&basis=amortized', path);
  }
  // Without a language nothing changes; with one, the cookie is set.
  assert.equal((await get('/lang', { referer: back })).headers.get('set-cookie'), null);
  assert.match((await get('/lang?set=zh-CN&set=en', { referer: back })).headers.get('set-cookie'), /^tg_lang=zh-CN;/);
  // Never an open redirect, whatever the referer says.
  assert.equal((await get('/lang', { referer: 'https://evil.example//x' })).headers.get('location'), '/');

  // Pages read their query leniently: nonsense shows the page, or the page with its own error
  // banner (a range that is not one answers 400), never a bare error.
  for (const path of [
    '/keys?page=abc&status=bogus&preset=%ZZ',
    '/usage-report?from=yesterday&to=2026-13-45&split=nope&basis=maybe&rate=abc',
    '/usage-report?from=2026-01-01&to=2025-01-01',
    '/login?changed&next=%ZZ',
    '/usage?key=%ZZ',
    '/settings?%ZZ',
  ]) {
    const res = await get(path);
    const body = await res.text();
    assert.ok(res.status === 200 || res.status === 400, `${path}: ${res.status} ${body.slice(0, 200)}`);
    assert.match(res.headers.get('content-type'), /^text\/html/, path);
    assert.match(body, /<h1[ >]/, `${path} is a dashboard page`);
    if (res.status === 400) assert.match(body, /class="banner banner-error"/, `${path} says what is wrong`);
    assert.doesNotMatch(body, /Failed to deserialize|Invalid URL|missing field|Failed to parse/i, path);
  }

  // A browser without JavaScript posts the login form itself: a wrong password comes back as
  // the login page with the error, not as the server function's bare JSON.
  const noScript = await browser.newContext({ locale: 'en-US', javaScriptEnabled: false });
  const form = await noScript.newPage();
  await form.goto(`${tg.url}/login`);
  await form.fill('#username', tg.username);
  await form.fill('#password', 'not-the-password');
  await form.click('button[type=submit]');
  await form.waitForURL(/\/login\?/);
  assert.match(await form.textContent('.banner-error'), /Wrong username or password/);
  await noScript.close();

  // In the browser, the bare switch lands back on the dashboard page it came from.
  const context = await browser.newContext({ locale: 'en-US', storageState: signedIn });
  const p = await context.newPage();
  watch(p);
  await p.goto(`${tg.url}/lang`, { referer: `${tg.url}/accounts` });
  await p.waitForURL(`${tg.url}/accounts`);
  await waitForHydration(p);
  assert.equal(await p.textContent('h1'), 'Upstream accounts');
  await context.close();
  assert.deepEqual(pageErrors, []);
});
