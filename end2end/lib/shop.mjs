// A shop with a realistic amount of everything, so every dashboard page has rows, charts and
// the long names real operators type: accounts on all three platforms (one failing), groups,
// presets, keys sold from them and bound to groups, traffic through the relay (cheap requests
// costing fractions of a cent and big ones costing dollars), a price override, a webhook target
// with a delivery. Built over the REST API and the relay, like an operator and their customers.
import assert from 'node:assert/strict';
import { adminApi } from './admin.mjs';

export const LONG_ACCOUNT = 'anthropic-enterprise-primary-pool-account-tokyo-region-01';
export const LONG_ACCOUNT_ZH = '华东区企业级主力账户（高并发专用，请勿随意修改配置，联系运维后再改）';
export const LONG_GROUP = 'VIP 大客户专属分组（Claude 高优先级，按月结算）';
export const LONG_KEY = '年度企业套餐_订单号20260301-9F3C7A1B2D4E6F80_上海某某信息科技有限公司';

async function relay(tg, path, headers, body) {
  const res = await fetch(`${tg.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return [res.status, text];
}

const claude = (tg, key, model, i) =>
  relay(tg, '/v1/messages', { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, {
    model,
    max_tokens: 100,
    messages: [{ role: 'user', content: `question ${i}` }],
  });
const openai = (tg, key, i) =>
  relay(tg, '/openai/v1/chat/completions', { authorization: `Bearer ${key}` }, {
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: `question ${i}` }],
  });
const gemini = (tg, key, i) =>
  relay(tg, '/gemini/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': key }, {
    contents: [{ role: 'user', parts: [{ text: `question ${i}` }] }],
  });

/// Fills a running Tollgate (`tg` from startTollgate) using `mock` as every account's upstream
/// and `hookUrl` as a webhook target. Returns a key holders can look up on `/usage`.
export async function stockShop(tg, mock, hookUrl) {
  const admin = await adminApi(tg);
  // Two Claude credentials answer big (a few cents to dollars per request), the rest small
  // (fractions of a cent); one credential is refused upstream.
  await mock.setBehavior('sk-big-1', { usage: { input: 120000, output: 18000, cacheRead: 40000 } });
  await mock.setBehavior('sk-big-2', { usage: { input: 60000, output: 9000 } });
  await mock.setBehavior('sk-revoked', { fault: { type: 'status', status: 401 } });

  const account = (body) => admin('POST', '/admin/accounts', { baseUrl: mock.url, ...body });
  const tokyo = await account({
    name: LONG_ACCOUNT, platform: 'claude', accountType: 'group', apiKey: 'sk-big-1', maxConcurrency: 8,
    priority: 10, monthlyCost: 1234.56, notes: 'Primary production account for enterprise customers; rotate the key every 90 days per the security policy.',
  });
  const east = await account({
    name: LONG_ACCOUNT_ZH, platform: 'claude', accountType: 'group', apiKey: 'sk-big-2', maxConcurrency: 12, monthlyCost: 480,
  });
  await account({ name: 'claude-shared-small', platform: 'claude', apiKey: 'sk-small-claude', monthlyCost: 20 });
  await account({ name: 'openai-compatible-backup-us-east', platform: 'openai', apiKey: 'sk-small-openai', monthlyCost: 0.5 });
  await account({ name: 'gemini-flash-pool', platform: 'gemini', apiKey: 'sk-small-gemini' });
  const revoked = await account({
    name: 'revoked-credential-left-in-the-pool-by-mistake', platform: 'claude', accountType: 'dedicated', apiKey: 'sk-revoked',
  });
  const test = await admin('POST', `/admin/accounts/${revoked.id}/test`);
  assert.equal(test.ok, false, 'the revoked account fails its test');

  const vip = await admin('POST', '/admin/account-groups', { name: LONG_GROUP, platform: 'claude', description: '大客户：高并发、优先调度、月结对账' });
  await admin('PUT', `/admin/account-groups/${vip.id}/members`, { accountIds: [tokyo.id, east.id] });
  const trial = await admin('POST', '/admin/account-groups', { name: 'experience-group-for-trial-cards', platform: 'claude', description: '' });
  await admin('PUT', `/admin/account-groups/${trial.id}/members`, { accountIds: [east.id] });

  const monthly = await admin('POST', '/admin/key-presets', {
    name: '月卡 · 200 美元额度 · 30 天 · 并发 5（企业客户专用）',
    validityDays: 30,
    settings: { quotaLimit: 200, concurrencyLimit: 5, salePrice: 1299, currency: 'CNY', claudeAccountId: `group:${vip.id}` },
  });
  const orders = await admin('POST', '/admin/api-keys/batch', {
    names: ['20260301-0001', '20260301-0002', '20260301-0003'],
    nameTemplate: '20刀体验_[订单号]',
    presetId: 'preset-trial',
    salePrice: 35,
    currency: 'CNY',
    claudeAccountId: `group:${trial.id}`,
  });
  const enterprise = await admin('POST', '/admin/api-keys', {
    name: LONG_KEY, presetId: monthly.id, quotaLimit: 200, salePrice: 1299, currency: 'CNY',
    claudeAccountId: `group:${vip.id}`, tags: ['enterprise', 'invoice-monthly', '上海'],
  });
  const pool = await admin('POST', '/admin/api-keys', { name: 'walk-in customer (pool)', quotaLimit: 20, salePrice: 3, currency: 'USD' });
  const dedicated = await admin('POST', '/admin/api-keys', { name: 'dedicated-to-the-revoked-account', quotaLimit: 0, claudeAccountId: revoked.id });
  // Its one customer's request meets the revoked credential: the account shows the error.
  const [refused] = await claude(tg, dedicated.key, 'claude-haiku-4-5', 0);
  assert.notEqual(refused, 200);
  await admin('PATCH', `/admin/api-keys/${dedicated.id}`, { isActive: false });

  const sent = [];
  for (let i = 0; i < 4; i++) sent.push(claude(tg, enterprise.key, 'claude-sonnet-4-5-20250929', i));
  for (const [i, created] of orders.entries()) sent.push(claude(tg, created.key, 'claude-haiku-4-5', i));
  for (let i = 0; i < 3; i++) {
    sent.push(claude(tg, pool.key, 'claude-haiku-4-5', i), openai(tg, pool.key, i), gemini(tg, pool.key, i));
  }
  for (const [status, body] of await Promise.all(sent)) assert.equal(status, 200, body);

  await admin('PUT', '/admin/pricing/house-model-with-a-very-long-name-2026-03-01-preview', {
    input: 1, output: 5, cacheWrite5m: 1.25, cacheWrite1h: 2, cacheRead: 0.1,
  });
  const hook = await admin('POST', '/admin/webhooks', {
    name: '运营群机器人（告警 + 额度提醒）', kind: 'generic', url: `${hookUrl}/hooks/tollgate/0123456789abcdef0123456789abcdef`, enabled: true,
    events: ['account.error', 'key.quota_warning', 'pool.saturated', 'test'],
  });
  await admin('POST', `/admin/webhooks/${hook.id}/test`);
  return { holderKey: enterprise.key };
}
