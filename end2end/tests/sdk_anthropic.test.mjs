// The official Anthropic TypeScript SDK against real Tollgate and mock-upstream processes:
// messages.create plain and streamed, with the key as x-api-key and as a bearer token, and
// errors surfacing as the SDK's own error classes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startTollgate } from '../lib/tollgate.mjs';
import { startMock } from '../lib/mock.mjs';
import { adminApi } from '../lib/admin.mjs';

const UPSTREAM_KEY = 'sk-ant-e2e-sdk-upstream';

let tg;
let mock;
let admin;
let key;

before(async () => {
  mock = await startMock(['--chunks', '6']);
  tg = await startTollgate();
  admin = await adminApi(tg);
  await admin('POST', '/admin/accounts', { name: 'claude', apiKey: UPSTREAM_KEY, baseUrl: mock.url });
  key = await admin('POST', '/admin/api-keys', { name: 'sdk', quotaLimit: 5 });
});

after(async () => {
  await tg?.stop();
  await mock?.stop();
});

test('messages.create without streaming', async () => {
  const client = new Anthropic({ apiKey: key.key, baseURL: tg.url, maxRetries: 0 });
  const msg = await client.messages.create({
    model: 'claude-opus-4-8',
    max_tokens: 4096,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.ok(msg.content[0].text.length > 0);
  assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
  const seen = await mock.lastRequest(UPSTREAM_KEY);
  assert.ok(seen, 'the upstream saw the request under the account credential');
});

test('messages.stream and create({stream: true}) through /api, with a bearer token', async () => {
  // ANTHROPIC_AUTH_TOKEN sends Authorization: Bearer; ANTHROPIC_BASE_URL may end in /api.
  const client = new Anthropic({ authToken: key.key, apiKey: null, baseURL: `${tg.url}/api`, maxRetries: 0 });
  const stream = client.messages.stream({
    model: 'claude-sonnet-4-6',
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Stream please' }],
  });
  const deltas = [];
  stream.on('text', (t) => deltas.push(t));
  const final = await stream.finalMessage();
  assert.equal(deltas.length, 6, 'every delta arrived as its own event');
  assert.equal(final.content[0].text, deltas.join(''));
  assert.ok(final.usage.output_tokens > 0);

  const events = [];
  const raw = await client.messages.create({
    model: 'claude-sonnet-4-6',
    max_tokens: 100,
    stream: true,
    messages: [{ role: 'user', content: 'again' }],
  });
  for await (const ev of raw) events.push(ev.type);
  assert.equal(events[0], 'message_start');
  assert.equal(events.at(-1), 'message_stop');
  assert.ok(events.includes('message_delta'));
});

test('errors come back as the SDK error classes', async () => {
  const bad = new Anthropic({ apiKey: 'tg_not_a_key', baseURL: tg.url, maxRetries: 0 });
  await assert.rejects(
    bad.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.AuthenticationError && e.status === 401,
  );
  const limited = await admin('POST', '/admin/api-keys', { name: 'models', allowedModels: ['claude-haiku-4-5'] });
  const client = new Anthropic({ apiKey: limited.key, baseURL: tg.url, maxRetries: 0 });
  await assert.rejects(
    client.messages.create({ model: 'claude-opus-4-8', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.PermissionDeniedError && /claude-opus-4-8/.test(e.message),
  );
  const counted = await new Anthropic({ apiKey: key.key, baseURL: tg.url, maxRetries: 0 }).messages.countTokens({
    model: 'claude-sonnet-4-6',
    messages: [{ role: 'user', content: 'count me' }],
  });
  assert.ok(counted.input_tokens > 0);
});
