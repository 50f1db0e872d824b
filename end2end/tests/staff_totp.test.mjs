// Two-step sign-in required of all staff, in a real browser: a seller who has none signs in and
// is sent to their account page (every other page sends them back there), sets up the
// authenticator from the secret shown, and only then reaches their keys and their own sales
// page (their two keys sold, their revenue). A viewer on /codes sees no create or revoke
// controls, and on /keys no edit, switch, delete or selection. English at 1280 px for the seller; the viewer at 375 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startTollgate } from '../lib/tollgate.mjs';
import { adminApi } from '../lib/admin.mjs';
import { launchBrowser, screenshot, waitForHydration } from '../lib/browser.mjs';
import { overflowProblems } from '../lib/overflow.mjs';

const PASSWORD = 'staff-password-2026';

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

// RFC 6238 (SHA-1, 6 digits, 30 s) from a base32 secret, as an authenticator app computes it.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

async function signIn(context, username) {
  const p = await context.newPage();
  watch(p);
  await p.goto(`${tg.url}/login`);
  await waitForHydration(p);
  await p.fill('#username', username);
  await p.fill('#password', PASSWORD);
  await p.click('button[type=submit]');
  return p;
}

async function staffUser(username, role, presets = []) {
  await api('POST', '/admin/users', { username, password: PASSWORD, role, allowedPresetIds: presets });
  const res = await fetch(`${tg.url}/admin/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

before(async () => {
  tg = await startTollgate();
  api = await adminApi(tg);
  const preset = await api('POST', '/admin/key-presets', {
    name: 'TOTP shop card', validityDays: 7, settings: { quotaLimit: 2, salePrice: 9.5, currency: 'USD' },
  });
  // The seller sells two keys before the policy is turned on.
  const token = await staffUser('totp-seller', 'seller', [preset.id]);
  for (const name of ['order-1', 'order-2']) {
    const res = await fetch(`${tg.url}/admin/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, presetId: preset.id }),
    });
    assert.equal(res.status, 201);
  }
  await staffUser('codes-viewer', 'viewer');
  await api('POST', '/admin/redemption-codes', { presetId: preset.id, count: 1 });
  await api('PUT', '/admin/settings/security', { totpRequired: 'all' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await tg?.stop();
});

test('a seller without a second factor sets it up first, then sees their sales', async () => {
  const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const s = await signIn(ctx, 'totp-seller');
  await s.waitForURL(`${tg.url}/account`);
  await waitForHydration(s);
  await s.waitForSelector('[data-testid=totp-setup-required]');
  // Any other page sends them back; its data is refused with the reason.
  await s.goto(`${tg.url}/keys`);
  assert.equal(new URL(s.url()).pathname, '/account');
  const refused = await s.evaluate(async () => {
    const r = await fetch('/admin/api-keys');
    return [r.status, (await r.json()).error.code];
  });
  assert.deepEqual(refused, [403, 'totp_setup_required']);

  await waitForHydration(s);
  await s.click('[data-testid=totp-begin]');
  const secret = (await s.locator('[data-testid=totp-secret]').innerText()).trim();
  await s.fill('[data-testid=totp-code]', totp(secret));
  await s.locator('[data-testid=totp-code]').press('Enter');
  await s.waitForSelector('[data-testid=recovery-codes]');
  await screenshot(s, 'totp-enrolled');

  // Enrolled: their pages open, their own sales among them.
  await s.goto(`${tg.url}/keys`);
  assert.equal(new URL(s.url()).pathname, '/keys');
  await s.goto(`${tg.url}/sales`);
  await waitForHydration(s);
  await s.waitForSelector('[data-testid=sales-section]');
  assert.match(await s.locator('h1').innerText(), /My sales/);
  assert.match(await s.locator('[data-testid=sales-keys] .stat-value').innerText(), /^2$/);
  assert.match(await s.locator('[data-testid=sales-revenue] .stat-value').innerText(), /\$19\.00/);
  assert.equal(await s.locator('[data-testid=sales-seller]').count(), 0, 'no seller filter for sellers');
  assert.deepEqual(await overflowProblems(s), []);
  await screenshot(s, 'sales-seller');
  await ctx.close();
});

test('a viewer sees codes without create or revoke controls', async () => {
  // The viewer is under the policy too: enrol over REST first (the browser test above covers
  // the page flow).
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 375, height: 812 } });
  const v = await signIn(ctx, 'codes-viewer');
  await v.waitForURL(`${tg.url}/account`);
  const secret = await v.evaluate(async () => (await (await fetch('/admin/auth/totp/setup', { method: 'POST' })).json()).secret);
  const confirmed = await v.evaluate(async (code) => (await fetch('/admin/auth/totp/confirm', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }),
  })).status, totp(secret));
  assert.equal(confirmed, 200);
  await v.goto(`${tg.url}/codes`);
  await waitForHydration(v);
  await v.waitForSelector('[data-testid=code-row]');
  assert.equal(await v.locator('[data-testid=codes-form]').count(), 0);
  assert.equal(await v.locator('[data-testid=code-revoke]').count(), 0);
  assert.deepEqual(await overflowProblems(v), []);
  // Nor on /keys: the seller's keys are listed, with their history and usage but no edit,
  // switch, delete or batch selection.
  await v.goto(`${tg.url}/keys`);
  await waitForHydration(v);
  await v.waitForSelector('[data-testid=key-row]');
  assert.ok(await v.locator('[data-testid=key-renew]').count() > 0);
  assert.equal(await v.locator('[data-testid=key-edit]').count(), 0);
  assert.equal(await v.locator('[data-testid=key-delete]').count(), 0);
  assert.equal(await v.locator('[data-testid=key-select]').count(), 0);
  await ctx.close();
  assert.deepEqual(pageErrors, [], 'no panics or hydration errors in the browser');
});
