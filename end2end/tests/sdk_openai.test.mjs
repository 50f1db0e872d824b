// The official `openai` npm SDK against real Tollgate and mock-upstream processes: Chat
// Completions and the Responses API on an OpenAI account under /openai/v1, and Chat
// Completions for a Claude model at the root /v1 (translated to the Messages API).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTollgate } from '../lib/tollgate.mjs';
import { startMock } from '../lib/mock.mjs';
import { adminApi } from '../lib/admin.mjs';

const OPENAI_UPSTREAM_KEY = 'sk-e2e-openai-upstream';
const CLAUDE_UPSTREAM_KEY = 'sk-ant-e2e-claude-upstream';

let tg;
let mock;
let admin;
let key;

before(async () => {
  mock = await startMock(['--chunks', '5']);
  tg = await startTollgate();
  admin = await adminApi(tg);
  await admin('POST', '/admin/accounts', { name: 'openai', platform: 'openai', apiKey: OPENAI_UPSTREAM_KEY, baseUrl: mock.url });
  await admin('POST', '/admin/accounts', { name: 'claude', platform: 'claude', apiKey: CLAUDE_UPSTREAM_KEY, baseUrl: mock.url });
  key = await admin('POST', '/admin/api-keys', { name: 'sdk' });
});

after(async () => {
  await tg?.stop();
  await mock?.stop();
});

const openaiClient = (baseURL, apiKey = key.key) => new OpenAI({ apiKey, baseURL, maxRetries: 0 });

test('chat completions, plain and streamed, on an OpenAI account', async () => {
  const client = openaiClient(`${tg.url}/openai/v1`);
  const completion = await client.chat.completions.create({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'Hello' }],
  });
  assert.equal(completion.object, 'chat.completion');
  assert.ok(completion.choices[0].message.content.length > 0);
  assert.equal(completion.usage.prompt_tokens, 100);

  // Without include_usage the relay still bills, and the client never sees the usage chunk.
  const stream = await client.chat.completions.create({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'Hello' }],
    stream: true,
  });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    assert.ok(chunk.choices.length > 0, `usage-only chunk reached the client: ${JSON.stringify(chunk)}`);
    text += chunk.choices[0].delta.content ?? '';
  }
  assert.ok(chunks >= 5 && text.length > 0);
  const seen = await mock.lastRequest(OPENAI_UPSTREAM_KEY);
  assert.equal(JSON.parse(seen.body).stream_options.include_usage, true);
  assert.equal(seen.headers.authorization, `Bearer ${OPENAI_UPSTREAM_KEY}`);

  // With include_usage the client gets its usage chunk.
  const withUsage = await client.chat.completions.create({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'Hello' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let usage;
  for await (const chunk of withUsage) usage = chunk.usage ?? usage;
  assert.equal(usage.completion_tokens, 20);
});

test('the Responses API as Codex CLI uses it', async () => {
  const client = openaiClient(`${tg.url}/openai/v1`);
  const response = await client.responses.create({ model: 'gpt-5', input: 'Say hi', instructions: 'Be brief.' });
  assert.equal(response.status, 'completed');
  assert.ok(response.output_text.length > 0);
  assert.equal(response.usage.output_tokens, 20);

  const root = openaiClient(`${tg.url}/v1`);
  const stream = await root.responses.create({ model: 'gpt-5', input: 'Say hi', stream: true });
  const types = [];
  let completed;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'response.completed') completed = event.response;
  }
  assert.ok(types.includes('response.output_text.delta'), types.join(','));
  assert.equal(completed.usage.input_tokens, 100);
});

test('a Claude model at the root /v1 is translated both ways', async () => {
  const client = openaiClient(`${tg.url}/v1`);
  const completion = await client.chat.completions.create({
    model: 'claude-sonnet-4-5',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ],
    max_completion_tokens: 200,
  });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.model, 'claude-sonnet-4-5');
  assert.equal(completion.choices[0].finish_reason, 'stop');
  assert.ok(completion.choices[0].message.content.length > 0);
  const seen = await mock.lastRequest(CLAUDE_UPSTREAM_KEY);
  assert.equal(seen.path, '/v1/messages');
  const sent = JSON.parse(seen.body);
  assert.deepEqual(sent.system, [{ type: 'text', text: 'Be brief.' }]);
  assert.equal(sent.max_tokens, 200);

  const stream = await client.chat.completions.create({
    model: 'claude-sonnet-4-5',
    messages: [{ role: 'user', content: 'Hello' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish;
  let usage;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  assert.ok(text.length > 0);
  assert.equal(finish, 'stop');
  assert.equal(usage.prompt_tokens, 100);
  assert.equal(usage.completion_tokens, 20);

  // What cannot be translated is refused, naming the field.
  await assert.rejects(
    client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }], n: 2 }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'n' && /^n:/.test(err.message.replace(/^400 /, '')),
  );
});

test('refusals arrive as the SDK error classes', async () => {
  const gpt5Only = await admin('POST', '/admin/api-keys', { name: 'gpt5', allowedModels: ['gpt-5'] });
  await assert.rejects(
    openaiClient(`${tg.url}/openai/v1`, gpt5Only.key).chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof OpenAI.PermissionDeniedError && /gpt-4.1/.test(err.message),
  );
  await assert.rejects(
    openaiClient(`${tg.url}/openai/v1`, 'tg_not_a_key').chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof OpenAI.AuthenticationError,
  );
  const models = await openaiClient(`${tg.url}/openai/v1`).models.list();
  const ids = models.data.map((m) => m.id);
  assert.ok(ids.includes('gpt-5') && ids.every((id) => !id.startsWith('claude-')), ids.join(','));

  // The key's spend reflects the requests above.
  const keys = await admin('GET', `/admin/api-keys/${key.id}`);
  assert.ok(keys.spent > 0, JSON.stringify(keys));
});
