/**
 * HTML for `listflow web`: escaping, the page shell and the pipeline picture (inline SVG). Server-rendered,
 * no script and no framework: every value that comes from Kafka, PostgreSQL or a feed is escaped here, once.
 */
import type { PipelineSpec } from '../../runtime/pipeline';

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text or attribute value -> HTML-safe. */
export const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** Only http(s) URLs become links or image sources; anything else (javascript:, file:) is left out. */
export const safeUrl = (u: string | null | undefined): string | undefined =>
  u && /^https?:\/\//i.test(u) ? u : undefined;

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
header{background:#1d2430;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0} header span{opacity:.7}
main{padding:16px 20px;display:grid;gap:16px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px}
section h2{font-size:15px;margin:0 0 10px}
table{border-collapse:collapse;width:100%} td,th{padding:4px 8px;border-bottom:1px solid #eef0f3;text-align:left}
th{font-weight:600;color:#5a6474} td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:12px}
.card{border:1px solid #e3e6eb;border-radius:6px;overflow:hidden;background:#fff}
.card img{width:100%;height:120px;object-fit:cover;display:block;background:#e9ecf0}
.card .nophoto{height:120px;display:flex;align-items:center;justify-content:center;color:#8a93a1;background:#e9ecf0}
.card div.t{padding:6px 8px;font-size:13px} .price{font-weight:600}
.muted{color:#8a93a1} pre{background:#f3f4f6;padding:8px;margin:0;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
main>section{min-width:0} td{vertical-align:top}
a{color:#1f5fbf}
`;

export function page(title: string, subtitle: string, body: string, refreshSeconds?: number): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : '',
    `<style>${CSS}</style></head><body>`,
    `<header><h1>${esc(title)}</h1><span>${esc(subtitle)}</span></header>`,
    `<main>${body}</main></body></html>`,
  ].join('\n');
}

export function section(id: string, title: string, body: string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>${body}</section>`;
}

export function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: ReadonlySet<number> = new Set(),
): string {
  const th = head.map((h, i) => `<th${numeric.has(i) ? ' class="n"' : ''}>${esc(h)}</th>`).join('');
  const trs = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric.has(i) ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>`;
}

/** What the picture shows per step. */
export interface StepFigures {
  readonly ratePerSecond: number | null;
  readonly lag: number | null;
  readonly deadLetters: number | null;
  readonly state: string;
}

/**
 * Column of each step: one more than the step that writes its input (0 for an input nobody in the pipeline
 * writes, such as ingest's jobs). Steps in a column are stacked.
 */
export function stepColumns(pipeline: PipelineSpec): Map<string, number> {
  const writer = new Map<string, string>();
  for (const s of pipeline.steps) for (const t of Object.values(s.outputs)) writer.set(t, s.id);
  const col = new Map<string, number>();
  const depth = (id: string, seen: Set<string>): number => {
    const known = col.get(id);
    if (known !== undefined) return known;
    const step = pipeline.steps.find((s) => s.id === id)!;
    const w = writer.get(step.input);
    const d = w === undefined || seen.has(w) ? 0 : depth(w, new Set([...seen, id])) + 1;
    col.set(id, d);
    return d;
  };
  for (const s of pipeline.steps) depth(s.id, new Set());
  return col;
}

const BOX_W = 170;
const BOX_H = 74;
const GAP_X = 60;
const GAP_Y = 24;

/** The pipeline as boxes (steps, with rate, lag, dead letters) and arrows (the topics between them). */
export function pipelineSvg(pipeline: PipelineSpec, figures: ReadonlyMap<string, StepFigures>): string {
  const cols = stepColumns(pipeline);
  const rowsInCol = new Map<number, number>();
  const pos = new Map<string, { x: number; y: number }>();
  for (const s of pipeline.steps) {
    const c = cols.get(s.id) ?? 0;
    const r = rowsInCol.get(c) ?? 0;
    rowsInCol.set(c, r + 1);
    pos.set(s.id, { x: 10 + c * (BOX_W + GAP_X), y: 10 + r * (BOX_H + GAP_Y) });
  }
  const width = 20 + (Math.max(...cols.values(), 0) + 1) * (BOX_W + GAP_X) - GAP_X;
  const height = 20 + Math.max(...rowsInCol.values(), 1) * (BOX_H + GAP_Y) - GAP_Y + 16;
  const writer = new Map<string, string>();
  for (const s of pipeline.steps) for (const t of Object.values(s.outputs)) writer.set(t, s.id);
  const parts: string[] = [];
  for (const s of pipeline.steps) {
    const w = writer.get(s.input);
    const to = pos.get(s.id)!;
    if (w === undefined) continue;
    const from = pos.get(w)!;
    const x1 = from.x + BOX_W;
    const y1 = from.y + BOX_H / 2;
    const x2 = to.x;
    const y2 = to.y + BOX_H / 2;
    parts.push(
      `<path d="M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}" fill="none" stroke="#8a93a1" stroke-width="1.5" marker-end="url(#arrow)"><title>${esc(s.input)}</title></path>`,
    );
  }
  for (const s of pipeline.steps) {
    const { x, y } = pos.get(s.id)!;
    const f = figures.get(s.id);
    const dl = f?.deadLetters ?? null;
    const lag = f?.lag ?? null;
    const stroke = dl ? '#c0392b' : lag ? '#d68910' : '#2e7d32';
    const fmt = (v: number | null, unit = '') => (v === null ? '-' : `${v}${unit}`);
    parts.push(
      `<g class="step" data-step="${esc(s.id)}">`,
      `<rect x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="6" fill="#fff" stroke="${stroke}" stroke-width="2"/>`,
      `<text x="${x + 10}" y="${y + 18}" font-weight="600" font-size="13">${esc(s.id)}</text>`,
      `<text x="${x + BOX_W - 10}" y="${y + 18}" font-size="10" text-anchor="end" fill="#8a93a1">${esc(f?.state ?? '')}</text>`,
      `<text x="${x + 10}" y="${y + 36}" font-size="12">rate ${esc(fmt(f?.ratePerSecond ?? null, '/s'))}</text>`,
      `<text x="${x + 10}" y="${y + 52}" font-size="12">lag ${esc(fmt(lag))}</text>`,
      `<text x="${x + 10}" y="${y + 68}" font-size="12" fill="${dl ? '#c0392b' : '#1d2430'}">dead letters ${esc(fmt(dl))}</text>`,
      `<title>${esc(`${s.id}: ${s.input} -> ${Object.values(s.outputs).join(', ')}`)}</title>`,
      '</g>',
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="pipeline ${esc(pipeline.name)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui,sans-serif">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8a93a1"/></marker></defs>',
    ...parts,
    '</svg>',
  ].join('\n');
}
