// The foundation in a real browser: log in, see live counts, switch language, log out; a wrong
// password shows an error; the old session cookie is refused after logout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate } from '../lib/tollgate.mjs';
import { launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';

let tg;
let browser;

before(async () => {
  tg = await startTollgate();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await tg?.stop();
});

test('wrong password shows an error and stays on the login page', async () => {
  const page = await browser.newPage({ locale: 'en-US' });
  const violations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  const res = await page.goto(`${tg.url}/login`);
  const csp = res.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self' 'nonce-[A-Za-z0-9_-]+' 'wasm-unsafe-eval'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(res.headers()['x-frame-options'], 'DENY');
  await waitForHydration(page);
  await page.fill('#username', 'admin');
  await page.fill('#password', 'definitely-wrong-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('.banner-error');
  assert.match(await page.textContent('.banner-error'), /Wrong username or password/);
  assert.ok(page.url().endsWith('/login'));
  // The page hydrated (the form answered) under its policy, with nothing refused.
  assert.deepEqual(violations, []);
  await screenshot(page, 'login-error');
  await page.close();
});

test('log in, see counts, switch language, log out; the old cookie is refused', async () => {
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  // Something to count: an API token's overview must match what the page shows.
  await page.goto(`${tg.url}/`);
  await page.waitForURL(/\/login$/);
  await waitForHydration(page);
  await page.fill('#username', tg.username);
  await page.fill('#password', tg.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${tg.url}/`);
  await page.waitForSelector('[data-testid=count-keys] .stat-value:text-matches("^[0-9]")');
  const api = await (await fetch(`${tg.url}/admin/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: tg.username, password: tg.password }),
  })).json();
  const counts = await (await fetch(`${tg.url}/admin/overview`, {
    headers: { authorization: `Bearer ${api.token}` },
  })).json();
  assert.equal(await page.textContent('[data-testid=count-accounts] .stat-value'), String(counts.accounts));
  assert.equal(await page.textContent('[data-testid=count-keys] .stat-value'), String(counts.keys));
  assert.equal(await page.textContent('[data-testid=count-groups] .stat-value'), String(counts.groups));
  assert.equal(await page.textContent('h1'), 'Overview');
  await screenshot(page, 'overview-en');

  await page.click('[data-testid=lang-switch]');
  await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  await waitForHydration(page);
  assert.equal(await page.textContent('h1'), '概览');
  await screenshot(page, 'overview-zh');
  await page.click('[data-testid=lang-switch]');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await waitForHydration(page);

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'tollgate_session');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');

  await page.click('[data-testid=logout]');
  await page.waitForURL(/\/login$/);

  // Replaying the old cookie after logout must not authenticate.
  const replay = await fetch(`${tg.url}/admin/fn/load_overview`, {
    method: 'POST',
    headers: { cookie: `tollgate_session=${session.value}`, 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(replay.status, 401);
  await context.close();
});
