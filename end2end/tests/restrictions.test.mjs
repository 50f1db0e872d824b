// Key restrictions and the account's first-token timeout through the dashboard, against real
// Tollgate and mock-upstream processes: a preset with allowed clients, a CIDR and a daily cap
// per model family; a key from that preset, a key and a batch with their own restrictions; what
// the REST API says was stored; a refused client and a refused address at the relay in the
// Anthropic error shape; sellers never see the fields. Then an account's first-token timeout
// set, shown and cleared in the account form.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTollgate } from '../lib/tollgate.mjs';
import { startMock } from '../lib/mock.mjs';
import { adminApi } from '../lib/admin.mjs';
import { launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';

const UPSTREAM_KEY = 'sk-ant-e2e-restrictions';
const CLAUDE_CODE_UA = 'claude-cli/2.0.14 (external, cli)';
const SDK_UA = 'Anthropic/JS 0.65.0';
const SELLER = 'restrict-seller';
const SELLER_PASSWORD = 'seller-password-2026';

let tg;
let mock;
let api;
let browser;
let page;
const problems = [];

function watch(p) {
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' && /panicked|hydrat/i.test(m.text())) problems.push(`console: ${m.text()}`);
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

async function open(path) {
  await page.goto(`${tg.url}${path}`);
  await waitForHydration(page);
}

async function toast(pattern) {
  const el = page.locator('[data-testid=toasts] .toast', { hasText: pattern }).first();
  await el.waitFor({ timeout: 15_000 });
  return el.textContent();
}

/// The stored key named `name`, read back through `GET /admin/api-keys/{id}`.
async function storedKey(name) {
  const { items } = await api('GET', `/admin/api-keys?search=${encodeURIComponent(name)}`);
  const found = items.filter((k) => k.name === name);
  assert.equal(found.length, 1, `one key named ${name}`);
  return api('GET', `/admin/api-keys/${found[0].id}`);
}

/// Creates the key in the open create form and returns its plaintext from the created dialog.
async function submitCreatedKey(form) {
  await page.click(`[data-testid=${form}] button[type=submit]`);
  await page.waitForSelector('[data-testid=created-dialog] [data-testid=created-key-value]');
  const keys = await page.locator('[data-testid=created-key-value]').allInnerTexts();
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=created-dialog]', { state: 'detached' });
  return keys.map((k) => k.trim());
}

function messages(key, userAgent) {
  return fetch(`${tg.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json', 'user-agent': userAgent, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] }),
  });
}

before(async () => {
  mock = await startMock();
  tg = await startTollgate();
  api = await adminApi(tg);
  await api('POST', '/admin/accounts', { name: 'claude', platform: 'claude', apiKey: UPSTREAM_KEY, baseUrl: mock.url });
  browser = await launchBrowser();
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  page = await signIn(context, tg.username, tg.password);
  await page.waitForURL(`${tg.url}/`);
});

after(async () => {
  await browser?.close();
  await tg?.stop();
  await mock?.stop();
});

test('restrictions set in the preset, create and batch forms are stored and enforced', async () => {
  // A preset for Claude Code cards: Claude Code only, from loopback or a v6 range, opus capped.
  await open('/keys');
  await page.click('[data-testid=presets]');
  await page.click('[data-testid=presets-dialog] .btn:text("Add preset")');
  await page.fill('#pr-name', 'Claude Code card');
  await page.fill('#pr-quota', '5');
  await page.check('[data-testid=pr-client-claude_code]');
  await page.fill('#pr-cidrs', '127.0.0.0/8, 2001:db8::/32');
  // A cap that does not parse is refused in the form, naming the format.
  await page.fill('#pr-caps', 'opus=lots');
  await page.click('[data-testid=preset-form] button[type=submit]');
  assert.match(await toast('family=USD'), /opus=5/);
  await page.fill('#pr-caps', 'opus=2');
  // A CIDR the server refuses comes back as its validation error.
  await page.fill('#pr-cidrs', '127.0.0.0/8, not-an-address');
  await page.click('[data-testid=preset-form] button[type=submit]');
  assert.match(await toast('not-an-address'), /IPv4\/IPv6/);
  await page.fill('#pr-cidrs', '127.0.0.0/8, 2001:db8::/32');
  await page.click('[data-testid=preset-form] button[type=submit]');
  await toast('Preset saved.');
  await page.waitForSelector('[data-testid=preset-list] li:has-text("Claude Code card")');
  await screenshot(page, 'restrictions-preset');
  const preset = (await api('GET', '/admin/key-presets')).find((p) => p.name === 'Claude Code card');
  assert.deepEqual(preset.settings.allowedClients, ['claude_code']);
  assert.deepEqual(preset.settings.allowedCidrs, ['127.0.0.0/8', '2001:db8::/32']);
  assert.deepEqual(preset.settings.modelDailyCostLimits, { opus: 2 });
  // Editing the preset shows them again.
  await page.locator('[data-testid=preset-list] li', { hasText: 'Claude Code card' }).locator('.btn:text("Edit")').click();
  assert.equal(await page.isChecked('[data-testid=pr-client-claude_code]'), true);
  assert.equal(await page.isChecked('[data-testid=pr-client-codex_cli]'), false);
  assert.equal(await page.inputValue('#pr-cidrs'), '127.0.0.0/8, 2001:db8::/32');
  assert.equal(await page.inputValue('#pr-caps'), 'opus=2');
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=presets-dialog]', { state: 'detached' });

  // A key from the preset: the fields left empty, so the preset's apply.
  await open('/keys');
  await page.click('[data-testid=new-key]');
  await page.fill('#ck-name', 'from-preset');
  await page.selectOption('#ck-preset', preset.id);
  const [fromPreset] = await submitCreatedKey('create-key-form');
  const a = await storedKey('from-preset');
  assert.equal(a.presetId, preset.id);
  assert.deepEqual(a.allowedClients, ['claude_code']);
  assert.deepEqual(a.allowedCidrs, ['127.0.0.0/8', '2001:db8::/32']);
  assert.deepEqual(a.modelDailyCostLimits, { opus: 2 });

  // A key with its own restrictions, no preset: two clients, an office range, a sonnet cap.
  await page.click('[data-testid=new-key]');
  await page.fill('#ck-name', 'direct');
  await page.check('[data-testid=ck-client-claude_code]');
  await page.check('[data-testid=ck-client-gemini_cli]');
  await page.fill('#ck-cidrs', '10.0.0.0/8');
  await page.fill('#ck-caps', 'sonnet=1.5, opus=0.5');
  await screenshot(page, 'restrictions-create-key');
  const [direct] = await submitCreatedKey('create-key-form');
  const b = await storedKey('direct');
  assert.deepEqual(b.allowedClients, ['claude_code', 'gemini_cli']);
  assert.deepEqual(b.allowedCidrs, ['10.0.0.0/8']);
  assert.deepEqual(b.modelDailyCostLimits, { opus: 0.5, sonnet: 1.5 });

  // A batch of two with Codex CLI only.
  await page.click('[data-testid=new-batch]');
  await page.click('[data-testid=batch-mode-count]');
  await page.fill('#bk-count', '2');
  await page.fill('#bk-template', 'codex-{n}');
  await page.check('[data-testid=bk-client-codex_cli]');
  const batch = await submitCreatedKey('batch-form');
  assert.equal(batch.length, 2);
  for (const name of ['codex-1', 'codex-2']) {
    const k = await storedKey(name);
    assert.deepEqual(k.allowedClients, ['codex_cli']);
    assert.deepEqual(k.allowedCidrs, []);
  }

  // At the relay: the preset's key serves Claude Code from loopback and refuses an SDK, in the
  // Anthropic shape naming the restriction.
  const ok = await messages(fromPreset, CLAUDE_CODE_UA);
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.equal((await mock.lastRequest(UPSTREAM_KEY)).path, '/v1/messages');
  const before = (await mock.stats()).total;
  const refused = await messages(fromPreset, SDK_UA);
  assert.equal(refused.status, 403);
  const body = await refused.json();
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, 'permission_error');
  assert.match(body.error.message, /allowedClients/);
  // The direct key lets Claude Code in, but not from 127.0.0.1 (only 10.0.0.0/8).
  const away = await messages(direct, CLAUDE_CODE_UA);
  assert.equal(away.status, 403);
  const awayBody = await away.json();
  assert.equal(awayBody.error.type, 'permission_error');
  assert.match(awayBody.error.message, /allowedCidrs/);
  assert.match(awayBody.error.message, /127\.0\.0\.1/);
  assert.equal((await mock.stats()).total, before, 'refused requests never reach the upstream');

  // The edit form shows what the create form stored.
  await open('/keys?search=direct');
  await page.locator('[data-testid=key-row]', { hasText: 'direct' }).locator('[data-testid=key-edit]').click();
  assert.equal(await page.isChecked('[data-testid=ek-client-gemini_cli]'), true);
  assert.equal(await page.inputValue('#ek-cidrs'), '10.0.0.0/8');
  assert.equal(await page.inputValue('#ek-caps'), 'opus=0.5, sonnet=1.5');
  await page.keyboard.press('Escape');

  assert.deepEqual(problems, [], 'no panics or hydration errors in the browser');
});

test('sellers never see the restriction fields', async () => {
  const preset = (await api('GET', '/admin/key-presets')).find((p) => p.name === 'Claude Code card');
  await api('POST', '/admin/users', { username: SELLER, password: SELLER_PASSWORD, role: 'seller', allowedPresetIds: [preset.id] });
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const s = await signIn(context, SELLER, SELLER_PASSWORD);
  await s.waitForURL(`${tg.url}/keys`);
  await waitForHydration(s);
  await s.click('[data-testid=new-batch]');
  await s.waitForSelector('[data-testid=batch-form]');
  assert.equal(await s.locator('[data-testid=bk-restrictions]').count(), 0);
  await s.fill('#bk-orders', 'R-1');
  await s.click('[data-testid=batch-form] button[type=submit]');
  await s.waitForSelector('[data-testid=created-dialog]');
  // The seller's key carries the preset's restrictions.
  const { items } = await api('GET', '/admin/api-keys?search=R-1');
  assert.equal(items.length, 1);
  const k = await api('GET', `/admin/api-keys/${items[0].id}`);
  assert.deepEqual(k.allowedClients, ['claude_code']);
  await context.close();
  assert.deepEqual(problems, [], 'no panics or hydration errors in the browser');
});

test('the account form sets, shows and clears the first-token timeout', async () => {
  await open('/accounts');
  await page.click('[data-testid=add-account]');
  await page.fill('#af-name', 'slow-start');
  await page.fill('#af-key', 'sk-ant-e2e-slow');
  await page.fill('#af-base', mock.url);
  const hint = await page.locator('[data-testid=account-form] .hint', { hasText: 'FIRST_TOKEN_TIMEOUT_MS' }).innerText();
  assert.match(hint, /60 s/);
  // Outside what the server accepts (1 to 600 s): refused in the form.
  await page.fill('#af-first-token', '0.5');
  await page.click('[data-testid=account-save]');
  await toast('between 1 and 600 seconds');
  await page.fill('#af-first-token', '45');
  await screenshot(page, 'restrictions-account-form');
  await page.click('[data-testid=account-save]');
  await toast('Account added.');
  const created = (await api('GET', '/admin/accounts')).find((x) => x.name === 'slow-start');
  assert.equal(created.firstTokenTimeoutMs, 45_000);

  // Edited: the form shows 45 s; 2.5 s is stored as 2500 ms; emptied, back to the default.
  await open('/accounts');
  const row = page.locator('[data-testid=account-row]', { hasText: 'slow-start' });
  await row.locator('[data-testid=account-edit]').click();
  assert.equal(await page.inputValue('#af-first-token'), '45');
  await page.fill('#af-first-token', '2.5');
  await page.click('[data-testid=account-save]');
  await toast('Account saved.');
  assert.equal((await api('GET', `/admin/accounts/${created.id}`)).firstTokenTimeoutMs, 2_500);
  await open('/accounts');
  await page.locator('[data-testid=account-row]', { hasText: 'slow-start' }).locator('[data-testid=account-edit]').click();
  assert.equal(await page.inputValue('#af-first-token'), '2.5');
  await page.fill('#af-first-token', '');
  await page.click('[data-testid=account-save]');
  await toast('Account saved.');
  assert.equal((await api('GET', `/admin/accounts/${created.id}`)).firstTokenTimeoutMs, null);
  assert.deepEqual(problems, [], 'no panics or hydration errors in the browser');
});
