/** Every CLI tool is offered by exactly one operator of the registry (toolOf finds it, or says how many do). */
import { operators } from './index';
import { toolOf } from './tools';

test.each([
  ['feedReader', 'ingest'],
  ['sourceProfiles', 'normalize'],
  ['publishedListings', 'publish'],
] as const)('the %s tool is the one %s offers', (tool, operator) => {
  expect(toolOf(tool)).toBe(operators[operator]!.tools![tool]);
});

test('the source profiles name the default profile among the built-in ones', () => {
  const profiles = toolOf('sourceProfiles');
  expect(profiles.names({})).toContain(profiles.defaultProfile);
});
