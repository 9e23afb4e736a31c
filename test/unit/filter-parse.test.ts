import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caretLines, FilterError, MAX_FILTER_DEPTH, parseFilter, tryParseFilter, type FilterExpr } from '../../main/store/filter/parse.js';
import { compileRegex, RegexBudgetError } from '../../main/store/filter/regex.js';
import { compilePatterns } from '../../main/store/filter/compile.js';
import { fieldHelp } from '../../main/store/filter/fields.js';

/** The error of a filter that must fail, as {message, position, length}. */
function err(src: string): { message: string; position: number; length: number } {
  const r = tryParseFilter(src);
  if (r.ok) throw new Error(`expected ${JSON.stringify(src)} to fail`);
  expect(r.error).toBeInstanceOf(FilterError);
  return r.error.toJSON();
}

/** The AST without positions, for readable expectations. */
function shape(e: FilterExpr): unknown {
  switch (e.kind) {
    case 'and':
    case 'or': return [e.kind, shape(e.left), shape(e.right)];
    case 'not': return ['not', shape(e.expr)];
    case 'has': return ['has', e.field.name];
    case 'cmp': return [e.field.name, e.op, e.value];
    default: return e.kind;
  }
}

describe('display filter parser', () => {
  it('parses comparisons, word operators, precedence (not > and > or) and parentheses', () => {
    expect(shape(parseFilter(''))).toBe('true');
    expect(shape(parseFilter('   '))).toBe('true');
    expect(shape(parseFilter('cmd == "Get" && status == 404'))).toEqual(['and', ['cmd', '==', 'Get'], ['status', '==', 404]]);
    expect(shape(parseFilter('dev == IMEI:1 or not dir == in and size >= 10'))).toEqual(
      ['or', ['dev', '==', 'IMEI:1'], ['and', ['not', ['dir', '==', 'in']], ['size', '>=', 10]]]);
    expect(shape(parseFilter('!(cmd == Get || cmd == Replace) && uri contains "./DevInfo"'))).toEqual(
      ['and', ['not', ['or', ['cmd', '==', 'Get'], ['cmd', '==', 'Replace']]], ['uri', 'contains', './DevInfo']]);
    expect(shape(parseFilter('size gt 3 AND size le 9'))).toEqual(['and', ['size', '>', 3], ['size', '<=', 9]]);
    expect(shape(parseFilter('finding'))).toEqual(['has', 'finding']);
    expect(shape(parseFilter('msg == 2 && msgid != "3"'))).toEqual(['and', ['msgid', '==', '2'], ['msgid', '!=', '3']]);
    expect(shape(parseFilter('uri == ./DevInfo/Mod'))).toEqual(['uri', '==', './DevInfo/Mod']);
    expect(shape(parseFilter('time > -5'))).toEqual(['time', '>', -5]);
  });

  it('decodes string escapes, both quotes', () => {
    expect(shape(parseFilter(String.raw`data == "a\"b\\c\n\t\x41\u00e9\u{1F600}"`))).toEqual(['data', '==', 'a"b\\c\n\tAé😀']);
    expect(shape(parseFilter(String.raw`data contains 'it\'s'`))).toEqual(['data', 'contains', "it's"]);
  });

  it('points at an unterminated string from its opening quote', () => {
    expect(err('cmd == "Get')).toEqual({ message: expect.stringContaining('unterminated string'), position: 7, length: 4 });
    expect(err("data contains 'abc\\'")).toMatchObject({ position: 14 });
  });

  it('names an unknown field and suggests the nearest', () => {
    const e = err('status == 200 && uir contains "x"');
    expect(e).toEqual({ message: expect.stringContaining('unknown field "uir"'), position: 17, length: 3 });
    expect(e.message).toContain('did you mean "uri"');
    expect(err('sevrity == error').message).toContain('did you mean "severity"');
    expect(err('zzzzzz').message).not.toContain('did you mean');
  });

  it('reports a missing operand where the operand should be', () => {
    expect(err('cmd ==')).toEqual({ message: expect.stringContaining('missing operand'), position: 6, length: 0 });
    expect(err('cmd == Get &&')).toEqual({ message: expect.stringContaining('missing operand'), position: 13, length: 0 });
    expect(err('&& cmd == Get')).toEqual({ message: expect.stringContaining('missing operand before "&&"'), position: 0, length: 2 });
    expect(err('cmd == && dir == in')).toMatchObject({ position: 7, length: 2 });
    expect(err('== 3')).toMatchObject({ message: expect.stringContaining('missing field'), position: 0 });
    expect(err('cmd == Get ||  || dir == in')).toMatchObject({ position: 15, length: 2 });
  });

  it('refuses type mismatches at the operator or the value', () => {
    expect(err('size contains 3')).toEqual({ message: expect.stringContaining('type mismatch'), position: 5, length: 8 });
    expect(err('status matches "4.."')).toMatchObject({ message: expect.stringContaining('is a number'), position: 7 });
    expect(err('status == "404"')).toEqual({ message: expect.stringContaining('type mismatch: status is a number'), position: 10, length: 5 });
    expect(err('size > big')).toMatchObject({ position: 7, length: 3 });
    expect(err('cmd > 3')).toEqual({ message: expect.stringContaining('cmd is text'), position: 4, length: 1 });
  });

  it('finds unbalanced parentheses', () => {
    expect(err('(cmd == Get')).toEqual({ message: expect.stringContaining('never closed'), position: 0, length: 1 });
    expect(err('((cmd == Get) && dir == in')).toMatchObject({ position: 0 });
    expect(err('cmd == Get)')).toEqual({ message: expect.stringContaining('")" without a matching "("'), position: 10, length: 1 });
    expect(err('()')).toMatchObject({ message: expect.stringContaining('empty parentheses'), position: 1 });
    expect(err('(cmd == Get dir == in)')).toMatchObject({ position: 12, length: 3 });
  });

  it('says what to write instead of = & | and stray characters', () => {
    expect(err('cmd = Get')).toEqual({ message: expect.stringContaining('use "=="'), position: 4, length: 1 });
    expect(err('cmd == Get & dir == in')).toMatchObject({ position: 11, length: 1 });
    expect(err('cmd == Get $')).toMatchObject({ message: expect.stringContaining('unexpected character "$"'), position: 11 });
    expect(err('status == 404x')).toMatchObject({ message: expect.stringContaining('not a number'), position: 10, length: 4 });
    expect(err('uri == dev')).toMatchObject({ message: expect.stringContaining('field name'), position: 7 });
    expect(err('data == "\\x4g"')).toMatchObject({ message: expect.stringContaining('bad escape'), position: 9, length: 2 });
    expect(shape(parseFilter(String.raw`data matches "\d+\.\d"`))).toEqual(['data', 'matches', String.raw`\d+\.\d`]);
  });

  it('bounds nesting depth and length with a located error, not a stack overflow', () => {
    const deep = '('.repeat(MAX_FILTER_DEPTH + 5) + 'cmd == Get' + ')'.repeat(MAX_FILTER_DEPTH + 5);
    expect(err(deep)).toMatchObject({ message: expect.stringContaining('nested deeper'), position: MAX_FILTER_DEPTH });
    expect(err('!'.repeat(1000) + 'finding').message).toContain('nested deeper');
    expect(err('cmd == Get || '.repeat(400) + 'cmd == Get').message).toContain('longer than');
    expect(shape(parseFilter('cmd == Get || '.repeat(200) + 'cmd == Get'))).toBeTruthy();
  });

  it('locates regular expression errors inside the quoted pattern', () => {
    const bad = (src: string) => {
      try {
        compilePatterns(parseFilter(src));
      } catch (e) {
        expect(e).toBeInstanceOf(FilterError);
        return (e as FilterError).toJSON();
      }
      throw new Error('no error');
    };
    expect(bad('data matches "ab(c"')).toMatchObject({ message: expect.stringContaining('unclosed group'), position: 16, length: 1 });
    expect(bad('uri matches "(a)\\1"')).toMatchObject({ message: expect.stringContaining('backreferences') });
    expect(bad('uri matches "\\d(\\d"')).toMatchObject({ message: expect.stringContaining('unclosed group'), position: 15, length: 1 });
    expect(bad('uri matches "(?=x)"')).toMatchObject({ message: expect.stringContaining('lookaround'), position: 13 });
    expect(err(`data matches "${'a'.repeat(300)}"`).message).toContain('longer than 256');
  });

  it('draws a caret under the error for the CLI', () => {
    const src = 'cmd == Get && uir == x';
    expect(caretLines(src, err(src))).toBe('cmd == Get && uir == x\n              ^^^');
    expect(caretLines('cmd ==', err('cmd =='))).toBe('cmd ==\n      ^');
  });

  it('lists every field with a type and help', () => {
    const names = fieldHelp().map((f) => f.name);
    for (const n of ['dev', 'session', 'msgid', 'dir', 'cmd', 'uri', 'status', 'data', 'size', 'enc', 'auth', 'finding', 'severity']) expect(names).toContain(n);
    expect(fieldHelp().find((f) => f.name === 'msgid')!.help).toContain('also: msg');
  });
});

describe('parser fuzz: only FilterError, always inside the filter', () => {
  const alphabet = ['cmd', 'uri', 'status', 'size', 'data', 'dev', ' ', '==', '!=', '<', '>=', 'contains', 'matches', '&&', '||', '!', 'and', 'not', '(', ')',
    '"', "'", '\\', '404', '-1', '3.5', 'Get', './a/b', '"x\\"y"', '=', '&', '|', '$', '\u00e9', '\u{1F600}', '\n', 'x\\u{', '\\x4', 'finding', 'sevrity'];

  const check = (src: string) => {
    let threw: unknown;
    try {
      parseFilter(src);
      const e = parseFilter(src);
      compilePatterns(e);
    } catch (e) {
      threw = e;
    }
    if (threw === undefined) return;
    expect(threw).toBeInstanceOf(FilterError);
    const e = threw as FilterError;
    expect(Number.isInteger(e.position) && e.position >= 0 && e.position <= src.length).toBe(true);
    expect(Number.isInteger(e.length) && e.length >= 0 && e.position + e.length <= Math.max(src.length, e.position)).toBe(true);
    expect(e.message.length).toBeGreaterThan(0);
  };

  it('token soup', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 30 }), (parts) => check(parts.join(''))), { numRuns: 3000, seed: 18 });
  });

  it('arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80, unit: 'binary' }), check), { numRuns: 3000, seed: 19 });
  });
});

describe('safe regular expressions', () => {
  it('match like RegExp on ordinary patterns', () => {
    const cases: [string, string][] = [
      ['abc', 'xxabcxx'], ['^abc', 'xabc'], ['^abc$', 'abc'], ['a|b', 'zzb'], ['\\d{3}', 'ab404'], ['[a-c]+x', 'bbx'], ['[^a-c]', 'abc'],
      ['colou?r', 'color'], ['x{2,3}y', 'xy'], ['x{2,}y', 'xxxxy'], ['\\./DevInfo', './DevInfo/Mod'], ['a.c', 'a\nc'], ['(ab|cd)*e$', 'ababcde'], ['\\s\\S\\w\\W', ' x1!'],
    ];
    for (const [p, t] of cases) expect(compileRegex(p).test(t), `${p} on ${t}`).toBe(new RegExp(p).test(t));
    expect(compileRegex('(?i)GET').test('a get')).toBe(true);
  });

  it('run catastrophic patterns in linear time, and stop at the budget', () => {
    const evil = compileRegex('(a+)+$');
    expect(evil.test(`${'a'.repeat(20_000)}!`)).toBe(false);
    const budget = { steps: 10_000 };
    expect(() => compileRegex('(a*)*(b*)*c').test('ab'.repeat(50_000), budget)).toThrow(RegexBudgetError);
  });

  it('name the literal every match contains (a store may skip texts without it), never one a match can lack', () => {
    expect(compileRegex('hello 12+3$').required).toBe('hello 1');
    expect(compileRegex('^(?:ab)c\\.d[xy]zz').required).toBe('abc.d');
    expect(compileRegex('50%_off').required).toBe('50%_off');
    expect(compileRegex('a|bcd').required).toBe('');
    expect(compileRegex('(?i)hello').required).toBe('');
    expect(compileRegex('x\\d+yz\\x41B').required).toBe('yzAB');
    // Soundness: whatever matches holds the required literal.
    const atoms = ['a', 'b', 'ab', '.', '[ab]', '\\.', '(a|b)', '(?:ab)', 'a*', 'b+', 'a?', '^', '$', 'x{2}', '\\x61', '\\d', '(ab)+'];
    fc.assert(fc.property(fc.array(fc.constantFrom(...atoms), { minLength: 1, maxLength: 6 }), fc.string({ maxLength: 12, unit: fc.constantFrom('a', 'b', '.', 'x', '1') }), (parts, text) => {
      const re = compileRegex(parts.join(''));
      if (re.test(text)) expect(text.includes(re.required), `${parts.join('')} on ${text}`).toBe(true);
    }), { numRuns: 3000, seed: 23 });
  });
});
