import {
  duplicateKeyProblem,
  jsonTextProblem,
  jsonValueProblem,
  MAX_NESTING,
  numberSource,
  textProblem,
} from './record-checks';

const check = (text: string) => {
  const s = jsonTextProblem(text);
  return (
    s.problem ?? duplicateKeyProblem(text, JSON.parse(text), s.topLevelKeys) ?? jsonValueProblem(text, JSON.parse(text))
  );
};

describe('JSON record checks', () => {
  test.each([
    ['{"a":1,"b":2}', undefined],
    ['{"a":1,"a":2}', 'the key "a" appears twice'],
    ['{ "a" : 1 , "a"\n:\t2 }', 'the key "a" appears twice'],
    ['{"a":{"x":1,"x":2}}', undefined], // nested duplicates: only the top level is checked
    ['{"a":"\\":","b":"x\\\\","a2":"\\"a\\":"}', undefined], // quotes and colons inside strings are not keys
    ['{"a":1,"\\u0061":2}', 'the key "a" appears twice'],
    ['[{"a":1},{"a":1}]', undefined],
    ['{"__proto__":1,"constructor":2}', undefined],
    [`{"x":${'['.repeat(MAX_NESTING - 1)}${']'.repeat(MAX_NESTING - 1)}}`, undefined],
    [`{"x":${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}}`, `nests deeper than ${MAX_NESTING} levels`],
    ['{"x":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', undefined],
    ['{"s":"\\ud800"}', 'lone UTF-16 surrogate'],
    ['{"s":"\\udc00\\ud800"}', 'lone UTF-16 surrogate'],
    ['{"s":"\\ud83c\\udfe0"}', undefined],
    ['{"s":"\\\\ud800"}', undefined], // an escaped backslash, then text
    ['{"s":"\\u0000"}', 'NUL character'],
  ])('%s -> %s', (text, problem) => {
    const got = check(text);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(problem);
  });

  test('a text check finds replacement characters and NULs', () => {
    expect(textProblem('ok')).toBeUndefined();
    expect(textProblem('a\uFFFDb')).toContain('not valid UTF-8');
    expect(textProblem('a\u0000b')).toContain('NUL');
  });

  test("numberSource gives a top-level number's digits as written", () => {
    expect(numberSource('{"k":12345678901234567890,"n":{"k":1}}', 'k')).toBe('12345678901234567890');
    expect(numberSource('{"n":{"k":12345678901234567890}}', 'k')).toBeUndefined();
  });
});
