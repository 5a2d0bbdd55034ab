/**
 * "No outbound request in the product bypasses the guarded client": product code (runtime/, operators/,
 * cli/, infra/, tests excluded) may not call `fetch(`, `http(s).request(`/`.get(`, construct an Agent or
 * import undici anywhere but runtime/http/.
 *
 * The exemptions are requests to the operator's own platform at configured addresses, never to a URL
 * taken from data: the schema registry client (a worker's LISTFLOW_REGISTRY_URL, the CLI's schemas
 * command, infra's probes of the local platform), the supervisor's readiness probe of the workers it
 * started on 127.0.0.1 and the OTLP span exporter (the operator's collector, OTEL_EXPORTER_OTLP_ENDPOINT). A new entry here needs the same justification.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SCANNED = ['runtime', 'operators', 'cli', 'infra'];
const GUARDED_MODULE = `runtime${sep}http${sep}`;

const EXEMPT: Readonly<Record<string, string>> = {
  'runtime/registry-client.ts':
    'schema registry at the configured LISTFLOW_REGISTRY_URL (the serde and listflow schemas)',
  'infra/registry.ts': "probes of the local platform's registry",
  'cli/supervisor.ts': 'readiness probe of workers it started on 127.0.0.1',
  'runtime/trace/otel.ts': "span exporter's agent for the operator's own collector at OTEL_EXPORTER_OTLP_ENDPOINT",
};

const FORBIDDEN: ReadonlyArray<[string, RegExp]> = [
  ['fetch(', /(?<![.\w$])fetch\s*\(/],
  ['http.request( / https.request(', /\bhttps?\.(?:request|get)\s*\(/],
  ['new Agent(', /\bnew\s+(?:\w+\.)?Agent\s*\(/],
  ["import from 'undici'", /from\s+['"]undici['"]/],
  // A client from node:http(s) (`import http from`, `import { request, get, Agent }`); a server or types are fine.
  [
    'import of an http(s) client',
    /import\s+(?:\w+|\*\s+as\s+\w+|\{[^}]*\b(?:request|get|Agent)\b[^}]*\})(?:\s*,\s*\{[^}]*\})?\s+from\s+['"](?:node:)?https?['"]/,
  ],
];

/** A method named fetch being declared (`fetch(url: string): Promise<Buffer>;`, `async fetch(raw) {`), not called. */
const METHOD_DECLARATION = /^\s*(?:async\s+)?fetch\s*\([^)]*\)\s*(?::[^=]*)?[{;]\s*$/;

function productFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' || d.name === 'generated' ? [] : productFiles(p);
    return d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Offending lines of one file's text, comments included on purpose (a commented-out fetch is a warning sign). */
function offences(text: string): string[] {
  return text.split('\n').flatMap((line, i) => {
    const hit = METHOD_DECLARATION.test(line) ? undefined : FORBIDDEN.find(([, re]) => re.test(line));
    return hit ? [`${i + 1}: ${hit[0]}: ${line.trim()}`] : [];
  });
}

describe('every outbound request goes through runtime/http', () => {
  test.each([
    ['const r = await fetch(url)', 1],
    ['return fetch(base + path)', 1],
    ['http.request(url, opts)', 1],
    ['https.get(url)', 1],
    ['const a = new Agent({ connect })', 1],
    ['const a = new undici.Agent()', 1],
    ["import { request } from 'undici';", 1],
    ["import http from 'node:http';", 1],
    ["import * as https from 'node:https';", 1],
    ["import { get, type IncomingMessage } from 'node:http';", 1],
    ["import { createServer, type Server } from 'node:http';", 0],
    ["import type { Server } from 'node:http';", 0],
    ['await fetcher.fetch(photo.url, signal)', 0],
    ['services.fetch: FetchLike', 0],
    ['prefetch(x)', 0],
    ['  fetch(url: string, signal: AbortSignal): Promise<Buffer>;', 0],
    ['    async fetch(raw, signal) {', 0],
    ['  fetch(url).then(ok);', 1],
  ])('the check sees %s', (line, n) => {
    expect(offences(line)).toHaveLength(n);
  });

  test('no product file outside runtime/http makes its own requests', () => {
    const found: string[] = [];
    for (const top of SCANNED) {
      for (const file of productFiles(join(ROOT, top))) {
        const rel = relative(ROOT, file);
        if (rel.startsWith(GUARDED_MODULE) || EXEMPT[rel.split(sep).join('/')]) continue;
        for (const o of offences(readFileSync(file, 'utf8'))) found.push(`${rel}:${o}`);
      }
    }
    expect(found).toEqual([]);
  });

  test('every exemption still exists and still needs its exemption', () => {
    for (const rel of Object.keys(EXEMPT)) {
      expect(offences(readFileSync(join(ROOT, rel), 'utf8')).length).toBeGreaterThan(0);
    }
  });
});
