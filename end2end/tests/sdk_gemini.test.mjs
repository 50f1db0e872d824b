// The official `@google/genai` SDK against real Tollgate and mock-upstream processes, set up
// the way Gemini CLI is (`GOOGLE_GEMINI_BASE_URL=<tollgate>/gemini`, the Tollgate key as the
// Gemini API key): generateContent, generateContentStream, countTokens, errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GoogleGenAI, ApiError } from '@google/genai';
import { startTollgate } from '../lib/tollgate.mjs';
import { startMock } from '../lib/mock.mjs';
import { adminApi } from '../lib/admin.mjs';

const GEMINI_UPSTREAM_KEY = 'AIza-e2e-gemini-upstream';

let tg;
let mock;
let admin;
let key;

before(async () => {
  mock = await startMock(['--chunks', '4']);
  tg = await startTollgate();
  admin = await adminApi(tg);
  await admin('POST', '/admin/accounts', { name: 'gemini', platform: 'gemini', apiKey: GEMINI_UPSTREAM_KEY, baseUrl: mock.url });
  key = await admin('POST', '/admin/api-keys', { name: 'sdk' });
});

after(async () => {
  await tg?.stop();
  await mock?.stop();
});

const genai = (apiKey = key.key) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: `${tg.url}/gemini` } });

test('generateContent and countTokens', async () => {
  const ai = genai();
  const response = await ai.models.generateContent({
    model: 'gemini-2.5-flash',
    contents: 'Hello',
    config: { systemInstruction: 'Be brief.', maxOutputTokens: 128 },
  });
  assert.ok(response.text.length > 0);
  assert.equal(response.usageMetadata.promptTokenCount, 100);
  assert.equal(response.usageMetadata.candidatesTokenCount, 20);
  const seen = await mock.lastRequest(GEMINI_UPSTREAM_KEY);
  assert.equal(seen.path, '/v1beta/models/gemini-2.5-flash:generateContent');
  assert.equal(seen.headers['x-goog-api-key'], GEMINI_UPSTREAM_KEY);
  assert.ok(!JSON.stringify(seen).includes(key.key), 'the Tollgate key never reaches the upstream');

  const counted = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'Hello there' });
  assert.ok(counted.totalTokens > 0);
});

test('generateContentStream', async () => {
  const ai = genai();
  const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'Write a line' });
  let text = '';
  let chunks = 0;
  let last;
  for await (const chunk of stream) {
    chunks += 1;
    text += chunk.text ?? '';
    last = chunk;
  }
  assert.equal(chunks, 4);
  assert.ok(text.length > 0);
  assert.equal(last.candidates[0].finishReason, 'STOP');
  assert.equal(last.usageMetadata.candidatesTokenCount, 20);
  const seen = await mock.lastRequest(GEMINI_UPSTREAM_KEY);
  assert.equal(seen.path, '/v1beta/models/gemini-2.5-pro:streamGenerateContent');
  assert.equal(seen.query, 'alt=sse');

  // The key has been billed for what it used.
  const record = await admin('GET', `/admin/api-keys/${key.id}`);
  assert.ok(record.spent > 0, JSON.stringify(record));
});

test('refusals arrive as ApiError with the HTTP status', async () => {
  await assert.rejects(
    genai('tg_not_a_key').models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
    (err) => err instanceof ApiError && err.status === 401,
  );
  const claudeOnly = await admin('POST', '/admin/api-keys', { name: 'claude only', permissions: ['claude'] });
  await assert.rejects(
    genai(claudeOnly.key).models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
    (err) => err instanceof ApiError && err.status === 403 && /gemini platform/.test(err.message),
  );
  const pager = await genai().models.list();
  const names = pager.page.map((m) => m.name);
  assert.ok(names.includes('models/gemini-2.5-pro'), names.join(','));
});
