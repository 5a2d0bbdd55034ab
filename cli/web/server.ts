/**
 * The HTTP server of `listflow web` (node:http, no framework): GET / renders the panels, GET /letters/<ref>
 * one dead letter decoded, GET /healthz answers ok. With admin actions on, POST /admin/redrive redrives one
 * step's letters of one code, and only with the token (constant-time compare); without them that path is 404.
 * Everything else is 404, and only GET, HEAD and that POST are answered.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DeadLetter, ledgerKey, parseLetterRef } from '../../runtime/dead-letters/letters';
import { esc, page, section, table } from './html';
import { PANELS, type PanelOptions, type WebData } from './panels';

/** What the letter page needs beyond the panels' data. */
export interface LetterSource {
  /** The letter at `ref`, decoded for people (its value and headers), or undefined when there is none. */
  letter(
    ref: string,
  ): Promise<{ letter: DeadLetter; value: { encoding: string; value: unknown; error?: string } } | undefined>;
}

export interface AdminActions {
  readonly token: string;
  redrive(step: string, code: string): Promise<{ redriven: number; selected: number; skippedInLedger: number }>;
}

export interface WebServerOptions {
  readonly data: WebData & LetterSource;
  /** Undefined: read-only (the default). */
  readonly admin?: AdminActions;
  /** Seconds between the page's reloads. */
  readonly refreshSeconds: number;
  readonly onError?: (e: unknown) => void;
}

const MAX_FORM_BYTES = 4096;

export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8'): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    // The page loads its photos from the store; nothing else, and it is never framed.
    'content-security-policy':
      "default-src 'none'; img-src http: https:; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function home(o: WebServerOptions, url: URL): Promise<string> {
  const opts: PanelOptions = {
    admin: o.admin !== undefined,
    ...(url.searchParams.get('source') ? { sourcePrefix: url.searchParams.get('source')! } : {}),
  };
  const sections = await Promise.all(PANELS.map((p) => p.render(o.data, opts)));
  return page(
    'Listflow',
    `pipeline ${o.data.pipeline.name} · ${new Date().toISOString()}`,
    sections.join('\n'),
    o.refreshSeconds,
  );
}

async function letterPage(o: WebServerOptions, raw: string): Promise<{ status: number; body: string }> {
  const ref = parseLetterRef(raw);
  if (typeof ref === 'string') return { status: 400, body: page('Bad letter reference', '', `<p>${esc(ref)}</p>`) };
  const found = await o.data.letter(ledgerKey(ref));
  if (!found) return { status: 404, body: page('No such dead letter', '', `<p>No letter at ${esc(raw)}.</p>`) };
  const { letter: l, value } = found;
  const shown = typeof value.value === 'string' ? value.value : JSON.stringify(value.value, null, 2);
  // A RawListing carries the feed's record as JSON text: show it parsed too, which is what one came to read.
  const payload = (value.value as { payload?: unknown } | null)?.payload;
  let parsedPayload: string | undefined;
  if (typeof payload === 'string') {
    try {
      parsedPayload = JSON.stringify(JSON.parse(payload), null, 2);
    } catch {
      parsedPayload = undefined;
    }
  }
  const headers = Object.entries(l.headers)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => [`<code>${esc(k)}</code>`, `<pre>${esc(v)}</pre>`]);
  const body = [
    section(
      'letter',
      `${ledgerKey(l.ref)}: ${l.code}`,
      table(
        ['step', 'operator', 'kind', 'failed at', 'source'],
        [
          [
            esc(l.step),
            esc(l.operator),
            esc(l.kind),
            esc(l.failedAt.toISOString()),
            esc(`${l.sourceTopic ?? '?'}:${l.sourcePartition ?? '?'}:${l.sourceOffset ?? '?'}`),
          ],
        ],
      ) + `<p id="message">${esc(l.message)}</p>`,
    ),
    section(
      'value',
      `Value (${value.encoding}${value.error ? `; not decodable: ${value.error}` : ''})`,
      `<pre id="decoded">${esc(shown)}</pre>`,
    ),
    parsedPayload === undefined
      ? ''
      : section('payload', 'The record (payload, parsed)', `<pre>${esc(parsedPayload)}</pre>`),
    section('headers', 'Headers', table(['header', 'value'], headers)),
    '<p><a href="/">back</a></p>',
  ];
  return { status: 200, body: page(`Dead letter ${l.code}`, ledgerKey(l.ref), body.join('\n')) };
}

async function redrivePost(o: WebServerOptions, req: IncomingMessage): Promise<{ status: number; body: string }> {
  const admin = o.admin!;
  const form = await readForm(req);
  if (!form) return { status: 413, body: page('Too large', '', '<p>The form is too large.</p>') };
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!tokenMatches(admin.token, bearer ?? form.get('token') ?? undefined)) {
    return {
      status: 403,
      body: page('Forbidden', '', '<p>Wrong or missing token (listflow web --admin printed it).</p>'),
    };
  }
  const step = form.get('step');
  const code = form.get('code');
  if (!step || !code) return { status: 400, body: page('Bad request', '', '<p>step and code are required.</p>') };
  const r = await admin.redrive(step, code);
  return {
    status: 200,
    body: page(
      'Redriven',
      `${step} ${code}`,
      `<p id="redrive-result">redriven ${esc(r.redriven)} of ${esc(r.selected)} selected; ${esc(r.skippedInLedger)} already redriven before.</p><p><a href="/">back</a></p>`,
    ),
  };
}

export function createWebServer(o: WebServerOptions): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const handle = async (): Promise<void> => {
      if (method === 'POST' && url.pathname === '/admin/redrive' && o.admin) {
        const r = await redrivePost(o, req);
        return send(res, r.status, r.body);
      }
      // Without --admin there is no admin path at all, whatever the method.
      if (url.pathname.startsWith('/admin/')) return send(res, 404, page('Not found', '', ''));
      if (method !== 'GET' && method !== 'HEAD') return send(res, 405, page('Method not allowed', '', ''));
      if (url.pathname === '/healthz') return send(res, 200, 'ok', 'text/plain');
      if (url.pathname === '/') return send(res, 200, await home(o, url));
      if (url.pathname.startsWith('/letters/')) {
        const r = await letterPage(o, decodeURIComponent(url.pathname.slice('/letters/'.length)));
        return send(res, r.status, r.body);
      }
      return send(res, 404, page('Not found', '', `<p>Nothing at ${esc(url.pathname)}.</p>`));
    };
    handle().catch((e: unknown) => {
      o.onError?.(e);
      if (!res.headersSent) send(res, 500, page('Error', '', `<p>${esc((e as Error).message ?? e)}</p>`));
      else res.end();
    });
  });
}

export async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
