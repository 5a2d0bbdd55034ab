import { classifyError, errorCatalogue, isErrorCode, ListflowError, PermanentError, RetriableError } from './errors';

describe('error catalogue', () => {
  test('codes are upper snake case and each entry says what it means', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(code).toMatch(/^[A-Z]+(_[A-Z0-9]+)+$/);
      expect(isErrorCode(code)).toBe(true);
      expect(entry.description.length).toBeGreaterThan(20);
      expect(['retriable', 'permanent', 'bug', 'fatal']).toContain(entry.kind);
    }
  });

  test.each([
    { thrown: new RetriableError('INGEST_FEED_UNREACHABLE', 'x'), code: 'INGEST_FEED_UNREACHABLE', kind: 'retriable' },
    { thrown: new PermanentError('NORMALIZE_PRICE_INVALID', 'x'), code: 'NORMALIZE_PRICE_INVALID', kind: 'permanent' },
    { thrown: new TypeError('x is undefined'), code: 'OPERATOR_BUG', kind: 'bug' },
    { thrown: new ReferenceError('y'), code: 'OPERATOR_BUG', kind: 'bug' },
    { thrown: new DOMException('timed out', 'TimeoutError'), code: 'JOB_TIMEOUT', kind: 'retriable' },
    { thrown: new Error('ECONNRESET'), code: 'UNCLASSIFIED_ERROR', kind: 'retriable' },
    { thrown: 'a string', code: 'UNCLASSIFIED_ERROR', kind: 'retriable' },
  ])('classifies $thrown', ({ thrown, code, kind }) => {
    const c = classifyError(thrown);
    expect(c.code).toBe(code);
    expect(c.kind).toBe(kind);
  });

  test('ListflowError takes its kind from the catalogue', () => {
    expect(new ListflowError('DLQ_WRITE_FAILED', 'x').kind).toBe('fatal');
    expect(new ListflowError('DLQ_WRITE_FAILED', 'x').retriable).toBe(false);
  });
});
