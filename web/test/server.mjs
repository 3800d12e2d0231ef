// Shared Node test harness: builds and runs a real collabd on a free
// 127.0.0.1 port with a throwaway data dir, for the client-library tests
// (web/test/client) and the browser tests (web/test/browser).
//
//   const srv = await startServer();          // { url, port, dataDir, env, stop, restart, logs }
//   const { token } = await signup(srv.url, 'alice', 'password1');
//   const doc = await api(srv.url, token, 'POST', '/v1/documents', { title: 'x' });
//   await srv.stop();
//
// All state here belongs to the single Node thread that imports it.

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const BUILD_TIMEOUT_MS = 10 * 60 * 1000; // a cold build on the shared 2-core box is slow
const READY_TIMEOUT_MS = 30 * 1000;
const STOP_TIMEOUT_MS = 30 * 1000;
const LOG_LIMIT = 1 << 20; // bytes of server output kept per server

// Generous limits so tests that type fast are not throttled; opts.args come
// after these, and the last occurrence of a Go flag wins.
const DEFAULT_ARGS = [
  '--edit-rate', '1000', '--edit-burst', '2000',
  '--user-edit-rate', '10000', '--request-rate', '10000',
];

let buildPromise = null; // one build per Node process
let binDir = null;
const running = new Set(); // child processes still alive, killed on process exit

process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
  if (binDir) {
    try { rmSync(binDir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

/**
 * Builds cmd/collabd once per process; resolves to the binary path. The
 * COLLABD_BIN environment variable names a prebuilt binary to use instead
 * (e.g. while the checkout is mid-edit).
 */
export function buildServer() {
  if (!buildPromise && process.env.COLLABD_BIN) buildPromise = Promise.resolve(process.env.COLLABD_BIN);
  if (!buildPromise) {
    buildPromise = (async () => {
      binDir = await mkdtemp(path.join(os.tmpdir(), 'collabd-bin-'));
      const bin = path.join(binDir, 'collabd');
      await new Promise((resolve, reject) => {
        execFile('go', ['build', '-o', bin, './cmd/collabd'],
          { cwd: repoRoot, timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 << 20 },
          (err, stdout, stderr) => {
            if (err) reject(new Error(`go build ./cmd/collabd failed: ${err.message}\n${stderr}`));
            else resolve();
          });
      });
      return bin;
    })();
    buildPromise.catch(() => { buildPromise = null; });
  }
  return buildPromise;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a collabd. opts: { args: [extra flags], env: {extra env vars},
 * keep: true to leave the data dir on stop }.
 */
export async function startServer(opts = {}) {
  const bin = await buildServer();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'collabd-data-'));
  const env = { ...process.env, ...(opts.env || {}) };
  let log = '';
  let child = null;
  let exited = null; // promise of the current child's exit
  let port = 0;
  let stopped = false;

  const appendLog = (chunk) => {
    log += chunk.toString();
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };
  const tail = () => log.split('\n').slice(-40).join('\n');

  const launch = () => {
    const args = ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir,
      '--open-signup=true', ...DEFAULT_ARGS, ...(opts.args || [])];
    const c = spawn(bin, args, { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.on('data', appendLog);
    c.stderr.on('data', appendLog);
    running.add(c);
    const done = new Promise((resolve) => {
      c.on('exit', (code, signal) => {
        running.delete(c);
        appendLog(`[harness] collabd exited code=${code} signal=${signal}\n`);
        resolve({ code, signal });
      });
      c.on('error', (err) => {
        running.delete(c);
        appendLog(`[harness] spawn error: ${err.message}\n`);
        resolve({ code: -1, signal: null, error: err });
      });
    });
    child = c;
    exited = done;
    return done;
  };

  // Polls /readyz until 200; fails early if the process exits.
  const waitReady = async (done) => {
    let exitedEarly = null;
    done.then((r) => { exitedEarly = r; });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastErr = 'no answer yet';
    while (Date.now() < deadline) {
      if (exitedEarly) {
        throw new Error(`collabd exited before /readyz answered (code=${exitedEarly.code}); log tail:\n${tail()}`);
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
        lastErr = `status ${res.status}`;
      } catch (err) {
        lastErr = err.message;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`collabd not ready after ${READY_TIMEOUT_MS} ms (${lastErr}); log tail:\n${tail()}`);
  };

  const kill = async (signal) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const c = child;
    const done = exited;
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await done;
    clearTimeout(timer);
  };

  // The first start picks a port; if someone took it between our probe and
  // the server's listen, try another a few times.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const done = launch();
    try {
      await waitReady(done);
      break;
    } catch (err) {
      await kill('SIGKILL');
      if (attempt < 3 && /address already in use/.test(log)) continue;
      await rm(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    env,
    /** Stops the server and waits for it to exit; removes the data dir unless opts.keep. */
    async stop(signal = 'SIGTERM') {
      await kill(signal);
      if (!stopped && !opts.keep) await rm(dataDir, { recursive: true, force: true });
      stopped = true;
    },
    /**
     * Stops (if running) and starts again on the same port and data dir;
     * waits for /readyz. whileDown: an async function run after the old
     * process exited and before the new one starts (e.g. to edit offline).
     * signal: how to stop it (default SIGTERM).
     */
    async restart({ whileDown, signal = 'SIGTERM' } = {}) {
      // With opts.keep the data dir survives stop(), so a stopped server can
      // come back (a test that needs it down for a while).
      if (stopped && !opts.keep) throw new Error('restart after stop(): the server was stopped for good');
      await kill(signal);
      if (whileDown) await whileDown();
      // The old socket may linger briefly; retry a bounded number of times.
      const deadline = Date.now() + READY_TIMEOUT_MS;
      for (;;) {
        const mark = log.length;
        const done = launch();
        try {
          await waitReady(done);
          return;
        } catch (err) {
          const inUse = /address already in use/.test(log.slice(Math.max(0, mark - 100)));
          if (!inUse || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    /** Everything the server printed (stdout and stderr interleaved), up to the last 1 MiB. */
    logs() { return log; },
  };
  return server;
}

/** Signs up a user; returns { token, user, cookie } where cookie is "collabd_session=...". */
export async function signup(url, username, password) {
  const res = await fetch(`${url}/v1/auth/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password, name: username }),
  });
  const body = await readBody(res);
  if (!res.ok) throw apiError('POST', '/v1/auth/signup', res.status, body);
  const cookies = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [];
  const session = cookies.find((c) => c.startsWith('collabd_session='));
  const cookie = session ? session.split(';')[0] : `collabd_session=${body.token}`;
  return { token: body.token, user: body.user, cookie };
}

/**
 * Calls the REST API: body (if any) is sent as JSON. Returns the parsed JSON
 * (a string for non-JSON bodies, null for 204); throws an Error with
 * .status, .code and .message on a non-2xx answer.
 */
export async function api(url, token, method, path, body) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url + path, init);
  const parsed = await readBody(res);
  if (!res.ok) throw apiError(method, path, res.status, parsed);
  return parsed;
}

async function readBody(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if ((res.headers.get('content-type') || '').includes('json')) {
    try { return JSON.parse(text); } catch { return text; }
  }
  return text;
}

function apiError(method, path, status, body) {
  const e = body && typeof body === 'object' && body.error ? body.error : { code: `http_${status}`, message: String(body) };
  const err = new Error(`${method} ${path}: ${status} ${e.code}: ${e.message}`);
  err.status = status;
  err.code = e.code;
  err.apiMessage = e.message;
  return err;
}
