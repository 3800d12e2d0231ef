// The REST calls of the pages. The browser authenticates with the login
// cookie (HttpOnly, set by sign-up and log-in); fetch sends the Origin
// header the server checks on state-changing requests.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = `The server answered ${res.status} ${res.statusText}`.trim();
    if (type.includes('json')) {
      try {
        const j = await res.json();
        if (j && j.error) {
          code = j.error.code || code;
          message = j.error.message || message;
        }
      } catch {
        // keep the status line
      }
    }
    if (res.status === 429) {
      const after = res.headers.get('Retry-After');
      if (after) message += ` (retry in ${after} s)`;
    }
    throw new ApiError(res.status, code, message);
  }
  return type.includes('json') ? res.json() : res.text();
}

const enc = encodeURIComponent;

export const api = {
  signup: (username, password, name) => request('POST', '/v1/auth/signup', { username, password, name }),
  login: (username, password) => request('POST', '/v1/auth/login', { username, password }),
  logout: () => request('POST', '/v1/auth/logout'),
  me: () => request('GET', '/v1/me'),
  listDocuments: (cursor) => request('GET', `/v1/documents?limit=50${cursor ? `&cursor=${enc(cursor)}` : ''}`),
  createDocument: (title) => request('POST', '/v1/documents', { title }),
  getDocument: (id) => request('GET', `/v1/documents/${enc(id)}`),
  renameDocument: (id, title) => request('PATCH', `/v1/documents/${enc(id)}`, { title }),
  deleteDocument: (id) => request('DELETE', `/v1/documents/${enc(id)}`),
  content: (id, version) => request('GET', `/v1/documents/${enc(id)}/content?format=delta${version != null ? `&version=${version}` : ''}`),
  ops: (id, from, to, limit) => request('GET', `/v1/documents/${enc(id)}/ops?from=${from}&to=${to}&limit=${limit}`),
  restore: (id, version) => request('POST', `/v1/documents/${enc(id)}/restore`, { version }),
  members: (id) => request('GET', `/v1/documents/${enc(id)}/members`),
  setMember: (id, username, role) => request('PUT', `/v1/documents/${enc(id)}/members/${enc(username)}`, { role }),
  removeMember: (id, username) => request('DELETE', `/v1/documents/${enc(id)}/members/${enc(username)}`),
};
