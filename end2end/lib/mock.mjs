// Starts the in-repo mock upstream (`target/debug/mock-upstream`: Anthropic, OpenAI and Gemini
// wire formats) on a free loopback port and hands back its URL plus helpers for its
// `/_mock/...` control API (see server/mock-upstream/src/behavior.rs for behaviours).
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
export const mockBin = process.env.MOCK_UPSTREAM_BIN ?? join(root, 'target/debug/mock-upstream');

export async function startMock(args = []) {
  const child = spawn(mockBin, ['--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`mock upstream did not start:\n${out}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/mock upstream listening on (http:\/\/[0-9.:]+)/);
      if (m) {
        clearTimeout(timer);
        resolveReady(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mock upstream exited with ${code}:\n${out}`));
    });
  });
  const control = async (method, path, body) => {
    const res = await fetch(`${url}/_mock${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok && res.status !== 404) throw new Error(`mock control ${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 || res.status === 404 ? null : res.json().catch(() => null);
  };
  return {
    url,
    child,
    /// How the mock answers requests made with `credential`.
    setBehavior: (credential, behavior) => control('PUT', `/behavior/${encodeURIComponent(credential)}`, behavior),
    /// The last request the mock received with `credential` (null if none).
    lastRequest: (credential) => control('GET', `/last/${encodeURIComponent(credential)}`),
    /// `{total, inFlight, byCredential}`.
    stats: () => control('GET', '/stats'),
    reset: () => control('POST', '/reset'),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
