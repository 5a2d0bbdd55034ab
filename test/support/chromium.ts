/**
 * A real headless Chromium (Debian's `chromium` package, see debian-tool.ts) driven over the DevTools protocol
 * with Node's own WebSocket: navigate, evaluate an expression in the page, click, take a PNG screenshot. Enough
 * for page tests without a browser-automation dependency.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianTool } from './debian-tool';

interface Pending {
  resolve(v: Record<string, unknown>): void;
  reject(e: Error): void;
}

export interface Browser {
  /** Opens `url` in the tab and resolves once its load event fired. */
  goto(url: string): Promise<void>;
  /** The value of `expression` evaluated in the page (returned by value: JSON-able). */
  evaluate<T>(expression: string): Promise<T>;
  /** Runs `expression` (which navigates, e.g. a click on a link) and waits for the next page's load. */
  navigateBy(expression: string): Promise<void>;
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

export async function launchChromium(opts: { width?: number; height?: number } = {}): Promise<Browser> {
  const binary = debianTool('chromium', 'chromium');
  const profile = mkdtempSync(join(tmpdir(), 'listflow-chromium-'));
  const child: ChildProcess = spawn(
    binary,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      '--remote-debugging-port=0',
      `--window-size=${opts.width ?? 1300},${opts.height ?? 1800}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chromium did not start within 30 s:\n${stderr}`)), 30_000);
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`chromium exited ${code}:\n${stderr}`)));
  });
  const ws = new WebSocket(endpoint);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot connect to ${endpoint}`));
  });
  let next = 1;
  const pending = new Map<number, Pending>();
  const listeners: ((method: string, sessionId: string | undefined) => void)[] = [];
  ws.onmessage = (e: MessageEvent) => {
    const msg = JSON.parse(String(e.data)) as {
      id?: number;
      method?: string;
      sessionId?: string;
      result?: Record<string, unknown>;
      error?: { message: string };
    };
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result ?? {});
    } else if (msg.method) {
      for (const l of listeners) l(msg.method, msg.sessionId);
    }
  };
  const call = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  const { targetId } = (await call('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
  const { sessionId } = (await call('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
  await call('Page.enable', {}, sessionId);
  const loaded = (timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the page did not load within 30 s')), timeoutMs);
      const l = (method: string, sid: string | undefined) => {
        if (method === 'Page.loadEventFired' && sid === sessionId) {
          clearTimeout(timer);
          listeners.splice(listeners.indexOf(l), 1);
          resolve();
        }
      };
      listeners.push(l);
    });
  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = (await call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId)) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.text} (${expression})`);
    return r.result.value;
  };
  return {
    async goto(url) {
      const done = loaded();
      await call('Page.navigate', { url }, sessionId);
      await done;
    },
    evaluate,
    async navigateBy(expression) {
      const done = loaded();
      await evaluate(expression);
      await done;
    },
    async screenshot() {
      const r = (await call('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId)) as {
        data: string;
      };
      return Buffer.from(r.data, 'base64');
    },
    async close() {
      ws.close();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
