import { TRACEPARENT_HEADER } from './context';
import { CONTEXT_ONLY, exportsSpans, jobTracer } from './spans';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';
const input = (headers: Record<string, string>) => ({ topic: 'listings.raw', partition: 2, offset: '7', headers });

describe('exportsSpans', () => {
  test.each([
    { env: {}, want: false },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, want: true },
    { env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }, want: true },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }, want: false },
    { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }, want: false },
  ])('$env -> $want', ({ env, want }) => {
    expect(exportsSpans(env)).toBe(want);
  });
});

test('without an endpoint the tracer only propagates, and loads no SDK', () => {
  const tracer = jobTracer('clean', {});
  expect(tracer).toBe(CONTEXT_ONLY);
  const span = tracer.startJob(input({ [TRACEPARENT_HEADER]: `00-${T}-${S}-01` }));
  expect(span.recording).toBe(false);
  expect(span.context.traceId).toBe(T);
  expect(Object.keys(require.cache).some((k) => k.includes('@opentelemetry/sdk-trace'))).toBe(false);
});

// Exported spans are checked end to end in test/integration/trace.test.ts: the exporter imports node:http
// dynamically, which jest's VM cannot run, so the SDK runs in the pipeline's worker processes there.
