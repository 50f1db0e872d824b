// Official SDKs on accounts of another platform, against real Tollgate and mock-upstream
// processes: the OpenAI SDK's `responses.create` through a Claude account, the Anthropic SDK
// through an OpenAI account, the OpenAI SDK's chat through a Gemini account. Each plain and
// streamed, errors in the SDK's own error class.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startTollgate } from '../lib/tollgate.mjs';
import { startMock } from '../lib/mock.mjs';
import { adminApi } from '../lib/admin.mjs';

const CLAUDE_UPSTREAM_KEY = 'sk-ant-e2e-cross-claude';
const OPENAI_UPSTREAM_KEY = 'sk-e2e-cross-openai';
const GEMINI_UPSTREAM_KEY = 'e2e-cross-gemini';

let tg;
let mock;
let admin;
let key;
let openaiBound;

before(async () => {
  mock = await startMock(['--chunks', '5']);
  tg = await startTollgate();
  admin = await adminApi(tg);
  await admin('POST', '/admin/accounts', { name: 'claude', platform: 'claude', apiKey: CLAUDE_UPSTREAM_KEY, baseUrl: mock.url });
  const openai = await admin('POST', '/admin/accounts', {
    name: 'openai', platform: 'openai', accountType: 'dedicated', apiKey: OPENAI_UPSTREAM_KEY, baseUrl: mock.url,
    modelMapping: { 'claude-sonnet-4-5': 'gpt-4.1' },
  });
  await admin('POST', '/admin/accounts', { name: 'gemini', platform: 'gemini', apiKey: GEMINI_UPSTREAM_KEY, baseUrl: mock.url });
  key = await admin('POST', '/admin/api-keys', { name: 'sdk' });
  openaiBound = await admin('POST', '/admin/api-keys', { name: 'claude-code-on-openai', openaiAccountId: openai.id });
});

after(async () => {
  await tg?.stop();
  await mock?.stop();
});

test('OpenAI SDK responses.create through a Claude account', async () => {
  const client = new OpenAI({ apiKey: key.key, baseURL: `${tg.url}/v1`, maxRetries: 0 });
  const response = await client.responses.create({
    model: 'claude-sonnet-4-5', instructions: 'Be brief.', input: 'Say hi', max_output_tokens: 200,
  });
  assert.equal(response.status, 'completed');
  assert.equal(response.model, 'claude-sonnet-4-5');
  assert.ok(response.output_text.length > 0);
  assert.equal(response.usage.output_tokens, 20);
  const seen = await mock.lastRequest(CLAUDE_UPSTREAM_KEY);
  assert.equal(seen.path, '/v1/messages');
  assert.equal(JSON.parse(seen.body).max_tokens, 200);

  const stream = await client.responses.create({ model: 'claude-sonnet-4-5', input: 'Say hi', stream: true });
  const types = [];
  let text = '';
  let completed;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') completed = event.response;
  }
  assert.equal(types[0], 'response.created', types.join(','));
  assert.ok(text.length > 0);
  assert.equal(completed.usage.input_tokens, 100);

  // No server-side state: refused with a 400 naming the field.
  await assert.rejects(
    client.responses.create({ model: 'claude-sonnet-4-5', input: 'again', previous_response_id: response.id }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'previous_response_id',
  );
});

test('Anthropic SDK through an OpenAI account', async () => {
  const client = new Anthropic({ apiKey: openaiBound.key, baseURL: tg.url, maxRetries: 0 });
  const message = await client.messages.create({
    model: 'claude-sonnet-4-5', max_tokens: 300, system: 'Be brief.',
    messages: [{ role: 'user', content: 'Hello' }],
  });
  assert.equal(message.type, 'message');
  assert.equal(message.model, 'claude-sonnet-4-5');
  assert.equal(message.stop_reason, 'end_turn');
  assert.ok(message.content[0].text.length > 0);
  assert.equal(message.usage.input_tokens, 100);
  const seen = await mock.lastRequest(OPENAI_UPSTREAM_KEY);
  assert.equal(seen.path, '/v1/chat/completions');
  assert.equal(JSON.parse(seen.body).model, 'gpt-4.1');

  const stream = client.messages.stream({
    model: 'claude-sonnet-4-5', max_tokens: 300, messages: [{ role: 'user', content: 'Hello' }],
  });
  let text = '';
  stream.on('text', (t) => { text += t; });
  const final = await stream.finalMessage();
  assert.ok(text.length > 0);
  assert.equal(final.usage.output_tokens, 20);

  await assert.rejects(
    client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, top_k: 3, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /top_k/.test(e.message),
  );
});

test('OpenAI SDK chat through a Gemini account', async () => {
  const client = new OpenAI({ apiKey: key.key, baseURL: `${tg.url}/v1`, maxRetries: 0 });
  const completion = await client.chat.completions.create({
    model: 'gemini-2.5-flash',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }],
  });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.model, 'gemini-2.5-flash');
  assert.ok(completion.choices[0].message.content.length > 0);
  assert.equal(completion.usage.prompt_tokens, 100);
  const seen = await mock.lastRequest(GEMINI_UPSTREAM_KEY);
  assert.equal(seen.path, '/v1beta/models/gemini-2.5-flash:generateContent');

  const stream = await client.chat.completions.create({
    model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hello' }],
    stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    usage = chunk.usage ?? usage;
  }
  assert.ok(text.length > 0);
  assert.equal(usage.completion_tokens, 20);
});
