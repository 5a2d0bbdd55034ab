import { formatTraceparent, jobSpan, newTrace, parseTraceparent, TRACEPARENT_HEADER, traceIdOfUuid } from './context';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  test.each([
    { name: 'valid, sampled', value: `00-${T}-${S}-01`, want: { traceId: T, spanId: S, flags: '01' } },
    { name: 'valid, not sampled', value: `00-${T}-${S}-00`, want: { traceId: T, spanId: S, flags: '00' } },
    { name: 'surrounding whitespace', value: ` 00-${T}-${S}-01 `, want: { traceId: T, spanId: S, flags: '01' } },
    {
      name: 'a higher version, read as 00',
      value: `01-${T}-${S}-01-extra`,
      want: { traceId: T, spanId: S, flags: '01' },
    },
    { name: 'version ff', value: `ff-${T}-${S}-01`, want: undefined },
    { name: 'version 00 with trailing fields', value: `00-${T}-${S}-01-extra`, want: undefined },
    { name: 'version not hex', value: `0g-${T}-${S}-01`, want: undefined },
    { name: 'all-zero trace id', value: `00-${'0'.repeat(32)}-${S}-01`, want: undefined },
    { name: 'all-zero span id', value: `00-${T}-${'0'.repeat(16)}-01`, want: undefined },
    { name: 'uppercase trace id', value: `00-${T.toUpperCase()}-${S}-01`, want: undefined },
    { name: 'uppercase version', value: `0A-${T}-${S}-01`, want: undefined },
    { name: 'short trace id', value: `00-${T.slice(1)}-${S}-01`, want: undefined },
    { name: 'long span id', value: `00-${T}-${S}0-01`, want: undefined },
    { name: 'one-digit flags', value: `00-${T}-${S}-1`, want: undefined },
    { name: 'missing flags', value: `00-${T}-${S}`, want: undefined },
    { name: 'empty', value: '', want: undefined },
    { name: 'absent', value: undefined, want: undefined },
  ])('$name', ({ value, want }) => {
    expect(parseTraceparent(value)).toEqual(want);
  });
});

describe('formatTraceparent', () => {
  test('round-trips through parseTraceparent', () => {
    const c = newTrace();
    expect(formatTraceparent(c)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(parseTraceparent(formatTraceparent(c))).toEqual(c);
  });
});

describe('newTrace', () => {
  test('keeps a given trace id (a submitted job id) and makes up an invalid one', () => {
    const id = traceIdOfUuid('4BF92F35-77B3-4DA6-A3CE-929D0E0E4736');
    expect(id).toBe(T);
    expect(newTrace(id).traceId).toBe(T);
    expect(newTrace('0'.repeat(32)).traceId).not.toBe('0'.repeat(32));
    expect(newTrace('not-hex').traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('jobSpan', () => {
  test("continues the input's trace with a new span whose parent is the producer's", () => {
    const span = jobSpan({ [TRACEPARENT_HEADER]: `00-${T}-${S}-01` });
    expect(span).toMatchObject({ traceId: T, parentSpanId: S, flags: '01' });
    expect(span.spanId).not.toBe(S);
  });
  test.each<{ name: string; headers: Record<string, string> }>([
    { name: 'no traceparent (an older producer)', headers: {} },
    { name: 'an invalid traceparent', headers: { [TRACEPARENT_HEADER]: 'garbage' } },
  ])('starts a new trace for $name', ({ headers }) => {
    const a = jobSpan(headers);
    const b = jobSpan(headers);
    expect(a.parentSpanId).toBeUndefined();
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.traceId).not.toBe(b.traceId);
  });
});
