/**
 * Exported spans with the OpenTelemetry SDK over OTLP/HTTP (JSON). Loaded only by runtime/trace/spans.ts
 * `jobTracer` when an endpoint is set; the exporter reads the standard OTEL_EXPORTER_OTLP_* variables
 * (endpoint, headers, timeout) and the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { TRACE_HEADER } from '../dead-letters/build';
import { parseTraceparent, TRACEPARENT_HEADER, type TraceContext } from './context';
import { batchOptions, type SamplerChoice, samplerChoice } from './otel-env';
import type { JobSpan, JobTracer, SpanAttributes, SpanInput, SpanPhase } from './spans';

/**
 * The exporter's connection agent from static imports: its default imports node:http dynamically, which a
 * VM without ES module support (jest) cannot run.
 */
const agentFor = (protocol: string) =>
  protocol === 'http:' ? new HttpAgent({ keepAlive: true }) : new HttpsAgent({ keepAlive: true });

class OtelJobSpan implements JobSpan {
  /** False for a job the sampler dropped: its phases are not timed either. */
  readonly recording: boolean;
  readonly context: TraceContext;
  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
  ) {
    this.recording = span.isRecording();
    const c = span.spanContext();
    this.context = { traceId: c.traceId, spanId: c.spanId, flags: c.traceFlags.toString(16).padStart(2, '0') };
  }
  phase(name: SpanPhase, startMs: number, endMs: number, attributes?: SpanAttributes, errorCode?: string): void {
    const child = this.tracer.startSpan(
      name,
      { startTime: startMs, ...(attributes === undefined ? {} : { attributes }) },
      trace.setSpan(ROOT_CONTEXT, this.span),
    );
    if (errorCode !== undefined) child.setStatus({ code: SpanStatusCode.ERROR, message: errorCode });
    child.end(endMs);
  }
  end(errorCode?: string): void {
    if (errorCode !== undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode });
    this.span.end();
  }
}

function samplerOf(c: SamplerChoice): Sampler {
  switch (c.kind) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(c.ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(c.ratio) });
  }
}

export function otelJobTracer(step: string, env: NodeJS.ProcessEnv = process.env): JobTracer {
  // The environment's resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) overrides the default name.
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: `listflow-${step}`, 'listflow.step': step }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const exporter = new OTLPTraceExporter({ httpAgentOptions: agentFor });
  const provider = new TracerProvider({
    resource,
    sampler: samplerOf(samplerChoice(env)),
    spanProcessors: [new BatchSpanProcessor({ exporter, ...batchOptions(env) })],
  });
  const tracer = provider.getTracer('listflow');
  return {
    startJob(input: SpanInput, startMs?: number): JobSpan {
      const parent = parseTraceparent(input.headers[TRACEPARENT_HEADER]);
      const parentContext = parent
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: parent.traceId,
            spanId: parent.spanId,
            traceFlags: Number.parseInt(parent.flags, 16),
            isRemote: true,
          })
        : ROOT_CONTEXT;
      const listflowTrace = input.headers[TRACE_HEADER];
      const span = tracer.startSpan(
        `${step} job`,
        {
          kind: SpanKind.CONSUMER,
          ...(startMs === undefined ? {} : { startTime: startMs }),
          attributes: {
            'messaging.system': 'kafka',
            'messaging.destination.name': input.topic,
            'messaging.destination.partition.id': String(input.partition),
            'messaging.kafka.offset': input.offset,
            ...(listflowTrace === undefined ? {} : { 'listflow.trace_id': listflowTrace }),
          },
        },
        parentContext,
      );
      return new OtelJobSpan(tracer, span);
    },
    shutdown: () => provider.shutdown(),
  };
}
