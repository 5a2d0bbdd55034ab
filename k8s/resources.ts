/** A step's pod resources from its pipeline sizing hint: Kubernetes quantities, limits never below requests. */
import type { StepSpec } from '../runtime/pipeline';

function millicores(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(q);
  if (!m)
    throw new Error(`unsupported CPU quantity ${JSON.stringify(q)}; use cores ("1", "0.5") or millicores ("250m")`);
  return m[2] === 'm' ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

const cpuQuantity = (mc: number): string => (mc % 1000 === 0 ? String(mc / 1000) : `${mc}m`);

export function mebibytes(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unsupported memory quantity ${JSON.stringify(q)}; use Mi or Gi ("512Mi", "2Gi")`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

const DEFAULT_RESOURCES = { cpu: '250m', memory: '256Mi' } as const;

/** Requests from the step; limits from the step, else twice the CPU request and the memory request. */
export function stepResources(step: StepSpec): {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
} {
  const r = step.resources ?? DEFAULT_RESOURCES;
  const cpuLimit = step.resources?.cpuLimit ?? cpuQuantity(millicores(r.cpu) * 2);
  const memoryLimit = step.resources?.memoryLimit ?? r.memory;
  if (millicores(cpuLimit) < millicores(r.cpu) || mebibytes(memoryLimit) < mebibytes(r.memory)) {
    throw new Error(`step ${step.id}: resource limits are below the requests`);
  }
  return { requests: { cpu: r.cpu, memory: r.memory }, limits: { cpu: cpuLimit, memory: memoryLimit } };
}
