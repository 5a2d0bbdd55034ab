import { KeyedScheduler } from './scheduler';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyedScheduler', () => {
  test('same key runs in order and never overlaps; concurrency is bounded', async () => {
    const s = new KeyedScheduler(3);
    const running = new Map<string, number>();
    let active = 0;
    let maxActive = 0;
    const order: Record<string, number[]> = {};
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      const key = `k${i % 4}`;
      jobs.push(
        s.schedule(key, async () => {
          expect(running.get(key) ?? 0).toBe(0);
          running.set(key, 1);
          active++;
          maxActive = Math.max(maxActive, active);
          await tick((i * 7) % 5);
          order[key] = [...(order[key] ?? []), i];
          active--;
          running.set(key, 0);
        }),
      );
    }
    await Promise.all(jobs);
    expect(maxActive).toBeLessThanOrEqual(3);
    expect(maxActive).toBeGreaterThan(1);
    for (const list of Object.values(order)) expect(list).toEqual([...list].sort((a, b) => a - b));
  });

  test('a failing job does not block its key', async () => {
    const s = new KeyedScheduler(2);
    const first = s.schedule('a', async () => {
      throw new Error('boom');
    });
    const second = s.schedule('a', async () => 'ran');
    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe('ran');
  });

  test('null keys are unordered but bounded', async () => {
    const s = new KeyedScheduler(2);
    let active = 0;
    let maxActive = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        s.schedule(null, async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await tick(2);
          active--;
        }),
      ),
    );
    expect(maxActive).toBe(2);
  });
});
