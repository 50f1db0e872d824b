// The admin REST API of a running Tollgate, signed in with the first admin's password.
import assert from 'node:assert/strict';

export async function adminApi(tg) {
  const login = await fetch(`${tg.url}/admin/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: tg.username, password: tg.password }),
  });
  assert.equal(login.status, 200);
  const { token } = await login.json();
  return async (method, path, body) => {
    const res = await fetch(`${tg.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => null);
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}
