// Starts a real Tollgate binary on a free loopback port with a throw-away data directory,
// waits for /health, and hands back its URL and the first admin's generated password.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
export const tollgateBin = process.env.TOLLGATE_BIN ?? join(root, 'target/debug/tollgate');
export const siteRoot = join(root, 'target/site');

export async function startTollgate(extraEnv = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
  const child = spawn(tollgateBin, ['serve'], {
    env: {
      ...process.env,
      LISTEN_ADDR: '127.0.0.1:0',
      TOLLGATE_DATA_DIR: dataDir,
      LEPTOS_SITE_ROOT: siteRoot,
      LOG_LEVEL: process.env.TOLLGATE_LOG ?? 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const ready = new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`tollgate did not start:\n${out}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/[0-9.:]+)/);
      if (m) {
        clearTimeout(timer);
        resolveReady(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`tollgate exited with ${code}:\n${out}`)));
  });
  const url = await ready;
  const password = out.match(/with password: (\S+)/)?.[1];
  // The listener is up; /health proves the database is too.
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    password,
    username: extraEnv.ADMIN_USERNAME ?? 'admin',
    dataDir,
    child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
