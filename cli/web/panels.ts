/**
 * The panels of the status page, in order. Each reads what it shows through `WebData` (so tests can hand it
 * plain values) and returns a `<section>`. To add one, write a Panel and put it in PANELS: the server and the
 * page need no other change.
 */
import type { ListingCard } from '../../operators/tools';
import { formatPrice } from '../commands/listings';
import type { SourceOverview } from '../commands/sources';
import type { StepStatus } from '../commands/status';
import { type DeadLetter, groupLetters, ledgerKey } from '../../runtime/dead-letters/letters';
import type { PipelineSpec } from '../../runtime/pipeline';
import { entryReread, type ReplayLedgerEntry } from '../../runtime/replay';
import { esc, pipelineSvg, safeUrl, section, type StepFigures, table } from './html';

/** One published listing as the page shows it. */
// The card's fields are the sink's query (operators/tools.ts PublishedListings.newest).
export type { ListingCard };

export interface WebData {
  readonly pipeline: PipelineSpec;
  steps(): Promise<readonly StepStatus[]>;
  letters(): Promise<readonly DeadLetter[]>;
  listings(filter: { limit: number; sourcePrefix?: string }): Promise<readonly ListingCard[]>;
  replays(): Promise<readonly ReplayLedgerEntry[]>;
  /** The sources with their committed cursors (empty when the pipeline replicates none). */
  sources(): Promise<readonly SourceOverview[]>;
}

export interface PanelOptions {
  /** Only listings whose source starts with this (the page's ?source=). */
  readonly sourcePrefix?: string;
  /** Admin actions are on (`listflow web --admin`): the letters panel shows a redrive form. */
  readonly admin: boolean;
}

export interface Panel {
  readonly id: string;
  render(data: WebData, opts: PanelOptions): Promise<string>;
}

/** Letters listed per code on the page (each a link to the decoded letter). */
export const LETTERS_PER_CODE = 5;
export const LISTINGS_SHOWN = 24;

export const letterHref = (l: DeadLetter): string => `/letters/${encodeURIComponent(ledgerKey(l.ref))}`;

const pipelinePanel: Panel = {
  id: 'pipeline',
  async render(data) {
    const steps = await data.steps();
    const figures = new Map<string, StepFigures>(steps.map((s) => [s.step, s]));
    const rows = steps.map((s) => [
      esc(s.step),
      esc(s.input),
      esc(s.state),
      esc(s.members),
      esc(s.ratePerSecond ?? '-'),
      esc(s.lag ?? '-'),
      esc(s.deadLetters ?? '-'),
    ]);
    return section(
      'pipeline',
      `Pipeline ${data.pipeline.name}`,
      pipelineSvg(data.pipeline, figures) +
        table(['step', 'input', 'group', 'members', 'rate/s', 'lag', 'dead letters'], rows, new Set([3, 4, 5, 6])),
    );
  },
};

const listingsPanel: Panel = {
  id: 'listings',
  async render(data, opts) {
    const cards = await data.listings({
      limit: LISTINGS_SHOWN,
      ...(opts.sourcePrefix ? { sourcePrefix: opts.sourcePrefix } : {}),
    });
    if (cards.length === 0) return section('listings', 'Newest published listings', '<p class="muted">None yet.</p>');
    const html = cards.map((c) => {
      const src = safeUrl(c.thumbUrl);
      const img = src
        ? `<img src="${esc(src)}" alt="${esc(`photo of ${c.id}`)}" loading="lazy">`
        : `<div class="nophoto">${c.thumbUrl ? 'photo not served over http' : c.photoCount > 0 ? 'no photo stored' : 'no photo'}</div>`;
      return `<div class="card" data-listing="${esc(c.id)}">${img}<div class="t"><div class="price">${esc(formatPrice(c.priceMinor, c.currency))}</div><div>${esc(c.city)}, ${esc(c.region)}</div><div class="muted">${esc(c.id)} · ${esc(c.status)}</div></div></div>`;
    });
    return section('listings', 'Newest published listings', `<div class="cards">${html.join('')}</div>`);
  },
};

const lettersPanel: Panel = {
  id: 'dead-letters',
  async render(data, opts) {
    const letters = await data.letters();
    if (letters.length === 0) return section('dead-letters', 'Dead letters', '<p class="muted">None.</p>');
    const newestFirst = [...letters].sort((a, b) => b.failedAt.getTime() - a.failedAt.getTime());
    const rows = groupLetters(letters).map((g) => {
      const mine = newestFirst.filter((l) => l.step === g.step && l.code === g.code).slice(0, LETTERS_PER_CODE);
      const links = mine.map((l) => `<a class="letter" href="${esc(letterHref(l))}">${esc(ledgerKey(l.ref))}</a>`);
      const redrive = opts.admin
        ? `<form method="post" action="/admin/redrive"><input type="hidden" name="step" value="${esc(g.step)}"><input type="hidden" name="code" value="${esc(g.code)}"><input type="password" name="token" placeholder="token" size="10"><button>redrive</button></form>`
        : '';
      return [
        esc(g.step),
        `<code>${esc(g.code)}</code>`,
        esc(g.count),
        esc(g.newest.toISOString()),
        links.join('<br>'),
        redrive,
      ];
    });
    return section(
      'dead-letters',
      `Dead letters (${letters.length})`,
      table(
        ['step', 'code', 'count', 'newest', 'letters (newest first)', opts.admin ? 'admin' : ''],
        rows,
        new Set([2]),
      ),
    );
  },
};

const replaysPanel: Panel = {
  id: 'replays',
  async render(data) {
    const replays = [...(await data.replays())].reverse().slice(0, 10);
    if (replays.length === 0) return '';
    const rows = replays.map((r) => [esc(r.resetAt), esc(r.step), esc(r.from), esc(entryReread(r)), esc(r.by)]);
    return section(
      'replays',
      'Replays (listflow replay)',
      table(['reset at', 'step', 'from', 're-read', 'by'], rows, new Set([3])),
    );
  },
};

const sourcesPanel: Panel = {
  id: 'sources',
  async render(data) {
    const sources = await data.sources();
    if (sources.length === 0) return '';
    const rows = sources.map((s) => [
      esc(s.name),
      esc(s.declared?.kind ?? 'retired'),
      s.state?.cursor
        ? `<code>${esc(s.state.cursor.timestamp)}</code> ${esc(s.state.cursor.key)}`
        : '<span class="muted">beginning</span>',
      esc(s.state?.initialDone ? 'yes' : 'no'),
      esc(s.state?.lastPoll || 'never'),
      esc(s.state?.counts.records ?? 0),
      esc(s.state?.counts.deletes ?? 0),
      esc(s.declared ? `${s.declared.pollIntervalMs / 1000}s` : '-'),
    ]);
    return section(
      'sources',
      'Sources (cursors, listflow sources list)',
      table(
        ['source', 'kind', 'cursor', 'first load done', 'last page', 'records', 'deletes', 'poll every'],
        rows,
        new Set([5, 6]),
      ),
    );
  },
};

export const PANELS: readonly Panel[] = [pipelinePanel, sourcesPanel, listingsPanel, lettersPanel, replaysPanel];
