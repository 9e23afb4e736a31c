import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSegment, formatPath, parentPath, parseUri, type UriError } from '../../main/tree/uri.js';

function err(uri: string, limits?: Parameters<typeof parseUri>[1]): UriError {
  const r = parseUri(uri, limits);
  if (r.ok) throw new Error(`expected ${uri} to be refused, got ${JSON.stringify(r.value)}`);
  return r.error;
}

describe('DM URI parsing', () => {
  it('reads absolute-from-root and relative forms to the same canonical path', () => {
    const a = parseUri('./DevInfo/DevId');
    const b = parseUri('DevInfo/DevId');
    expect(a.ok && a.value).toEqual({ segments: ['DevInfo', 'DevId'], path: './DevInfo/DevId' });
    expect(b.ok && b.value).toEqual({ segments: ['DevInfo', 'DevId'], path: './DevInfo/DevId' });
  });

  it('takes "." (and the "./" of the RepPro MoreData example) as the root', () => {
    for (const u of ['.', './']) {
      const r = parseUri(u);
      expect(r.ok && r.value).toEqual({ segments: [], path: '.' });
    }
    const q = parseUri('.?list=Struct');
    expect(q.ok && q.value.query).toEqual({ kind: 'list', list: 'Struct', flags: [] });
  });

  it('refuses empty, absolute, empty-segment and dot segments with 400 naming the segment', () => {
    expect(err('')).toMatchObject({ status: 400, code: 'empty' });
    expect(err('/DevInfo')).toMatchObject({ status: 400, code: 'absolute' });
    const dbl = err('./DMAcc//Name');
    expect(dbl).toMatchObject({ status: 400, code: 'empty-segment', segmentIndex: 1, segment: '' });
    expect(err('./DMAcc/')).toMatchObject({ status: 400, code: 'empty-segment', segmentIndex: 1 });
    expect(err('./DMAcc/').message).toContain("cannot end with '/'");
    const up = err('./DMAcc/../DevInfo');
    expect(up).toMatchObject({ status: 400, code: 'dot-segment', segment: '..', segmentIndex: 1 });
    expect(up.message).toContain('"./DMAcc/../DevInfo"');
    expect(up.message).toContain('segment 2 ".."');
    expect(err('./A/./B')).toMatchObject({ code: 'dot-segment', segment: '.' });
    expect(err('././A')).toMatchObject({ code: 'dot-segment', segmentIndex: 0 });
  });

  it("percent-decodes names; '/' can never be part of a name, so %2F is refused", () => {
    const sp = parseUri('./Vendor/My%20Node');
    expect(sp.ok && sp.value.segments).toEqual(['Vendor', 'My Node']);
    expect(sp.ok && sp.value.path).toBe('./Vendor/My%20Node');
    const utf = parseUri('./caf%C3%A9');
    expect(utf.ok && utf.value.segments).toEqual(['café']);
    expect(utf.ok && utf.value.path).toBe('./café');
    expect(err('./a%2Fb')).toMatchObject({ status: 400, code: 'slash-in-name', segment: 'a%2Fb' });
    expect(err('./a%2fb').code).toBe('slash-in-name');
    expect(err('./a%zz')).toMatchObject({ status: 400, code: 'bad-escape' });
    expect(err('./a%C3')).toMatchObject({ code: 'bad-escape' }); // truncated UTF-8
    expect(err('./%2E%2E')).toMatchObject({ code: 'dot-segment' });
    expect(err('./a%01b')).toMatchObject({ code: 'control-char' });
  });

  it('parses ?prop= and ?list= and refuses other queries with 400', () => {
    const p = parseUri('./DMAcc/xyzInc?prop=ACL');
    expect(p.ok && p.value).toEqual({ segments: ['DMAcc', 'xyzInc'], path: './DMAcc/xyzInc', query: { kind: 'prop', prop: 'ACL' } });
    const unknownProp = parseUri('./A?prop=Colour'); // syntactically fine: the tree answers 406
    expect(unknownProp.ok && unknownProp.value.query).toEqual({ kind: 'prop', prop: 'Colour' });
    const sd = parseUri('./A?list=StructData');
    expect(sd.ok && sd.value.query).toEqual({ kind: 'list', list: 'StructData', flags: [] });
    const tnds = parseUri('./A?list=TNDS+ACL+Value');
    expect(tnds.ok && tnds.value.query).toEqual({ kind: 'list', list: 'TNDS', flags: ['ACL', 'Value'] });
    for (const bad of ['./A?prop', './A?foo=1', './A?list=Tree', './A?list=Struct+ACL', './A?prop=']) {
      expect(err(bad)).toMatchObject({ status: 400, code: 'bad-query' });
    }
  });

  it('enforces MaxDepth, MaxSegLen and MaxTotLen with 414 (0 = unlimited)', () => {
    const limits = { maxDepth: 2, maxTotLen: 12, maxSegLen: 4 };
    expect(parseUri('./AB/CD', limits).ok).toBe(true);
    expect(parseUri('./ABCD/EFGH', limits).ok).toBe(true); // 11 bytes <= MaxTotLen 12
    expect(err('./A/B/C', limits)).toMatchObject({ status: 414, code: 'too-deep' });
    const seg = err('./ABCDE', limits);
    expect(seg).toMatchObject({ status: 414, code: 'segment-too-long', segment: 'ABCDE', segmentIndex: 0 });
    expect(seg.message).toContain('MaxSegLen is 4');
    expect(parseUri('./ABCD/EFG', { maxDepth: 0, maxTotLen: 10, maxSegLen: 0 }).ok).toBe(true); // exactly 10
    expect(err('./ABCD/EFGH', { maxDepth: 0, maxTotLen: 10, maxSegLen: 0 })).toMatchObject({ status: 414, code: 'too-long' });
    // MaxSegLen counts UTF-8 bytes of the segment as sent
    expect(err('./éé€', { maxDepth: 0, maxTotLen: 0, maxSegLen: 6 })).toMatchObject({ code: 'segment-too-long' });
    expect(parseUri('./éé€', { maxDepth: 0, maxTotLen: 0, maxSegLen: 7 }).ok).toBe(true);
    const long = './' + Array.from({ length: 300 }, (_, i) => 'n' + i).join('/');
    expect(parseUri(long).ok).toBe(true);
  });

  it('formats and re-parses any valid name list (property)', () => {
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/') && s !== '.' && s !== '..' && !/[\u0000-\u001f\u007f]/.test(s) && !/[\uD800-\uDFFF]/.test(s));
    fc.assert(
      fc.property(fc.array(name, { minLength: 0, maxLength: 6 }), (names) => {
        const path = formatPath(names);
        const r = parseUri(path);
        expect(r.ok).toBe(true);
        if (r.ok) {
          expect(r.value.segments).toEqual(names);
          expect(r.value.path).toBe(path);
        }
      }),
    );
    expect(encodeSegment('50%?')).toBe('50%25%3F');
    expect(parentPath('./A/B')).toBe('./A');
    expect(parentPath('./A')).toBe('.');
    expect(parentPath('.')).toBeUndefined();
  });
});
