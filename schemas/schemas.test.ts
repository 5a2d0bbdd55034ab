import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { generatedPath, render } from '../scripts/gen-schemas';
import { avroSchemas, schemaNames } from './generated/types';

const root = join(__dirname, '..');

describe('schemas', () => {
  test('schemas/generated/types.ts is up to date with schemas/*.avsc', () => {
    expect(readFileSync(generatedPath(root), 'utf8')).toBe(render(join(root, 'schemas')));
  });

  test.each(schemaNames.map((n) => [n]))('%s parses as a self-contained Avro schema', (name) => {
    expect(() => avro.Type.forSchema(avroSchemas[name] as avro.Schema)).not.toThrow();
  });
});
