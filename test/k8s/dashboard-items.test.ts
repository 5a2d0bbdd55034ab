/**
 * Items an operator declares (runtime/operator.ts `items`) get a panel in their step's row of the generated
 * dashboard, and the panels of a row never overlap (four across, then the next line).
 */
import { renderDashboard } from '../../k8s/dashboards';
import { operators } from '../../operators';
import listings from '../../pipelines/listings';

interface Panel {
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string }[];
}
const panels = (renderDashboard(listings) as { panels: Panel[] }).panels;

/** The timeseries panels of each row, by the row's title. */
const rows = (): Map<string, Panel[]> => {
  const out = new Map<string, Panel[]>();
  let current = '';
  for (const p of panels) {
    if (p.type === 'row') {
      current = p.title;
      out.set(current, []);
    } else out.get(current)?.push(p);
  }
  return out;
};

test.each(listings.steps.map((s) => ({ step: s.id, row: `${s.id}: ${s.input}`, operator: s.operator })))(
  '$step: a panel per declared item, reading listflow_items_total of that step and item',
  ({ step, row, operator }) => {
    const items = Object.keys(operators[operator]?.items ?? {});
    const itemPanels = (rows().get(row) ?? []).filter((p) =>
      p.targets?.some((t) => t.expr.includes('listflow_items_total')),
    );
    expect(itemPanels.map((p) => p.title)).toEqual(items.map((i) => `${i}: ok and failed by code (/s)`));
    for (const [i, p] of itemPanels.entries())
      expect(p.targets?.[0]?.expr).toBe(
        `sum by (outcome, code) (rate(listflow_items_total{step="${step}",item="${items[i]}"}[5m]))`,
      );
  },
);

test('images declares photos, so its row has the photo panel', () => {
  const images = listings.steps.find((s) => s.operator === 'images')!;
  expect(
    rows()
      .get(`${images.id}: ${images.input}`)
      ?.map((p) => p.title),
  ).toContain('photo: ok and failed by code (/s)');
});

test('no two panels overlap, and none is wider than the grid', () => {
  const cells = new Set<string>();
  for (const p of panels) {
    const { x, y, w, h } = p.gridPos;
    expect(x + w).toBeLessThanOrEqual(24);
    for (let i = x; i < x + w; i++)
      for (let j = y; j < y + h; j++) {
        expect(cells.has(`${i},${j}`)).toBe(false);
        cells.add(`${i},${j}`);
      }
  }
});

test("an owning step (sources) has its keys' lag panel; a step consuming jobs has none", () => {
  for (const s of listings.steps) {
    const owned = (rows().get(`${s.id}: ${s.input}`) ?? []).filter((p) =>
      p.targets?.some((t) => t.expr.includes('listflow_owned_')),
    );
    if (operators[s.operator]?.own === undefined) expect(owned).toEqual([]);
    else
      expect(owned[0]?.targets?.[0]?.expr).toBe(
        `time() - max by (key) (listflow_owned_caught_up_timestamp_seconds{step="${s.id}"})`,
      );
  }
  expect(listings.steps.filter((s) => operators[s.operator]?.own !== undefined).map((s) => s.id)).toEqual(['sources']);
});
