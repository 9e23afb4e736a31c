/**
 * The one URI check shared by the UI's URI fields and the judge's uri.* rules (issue 18 point 5):
 * `//`, `..`, `?` outside a query and the DevDetail/URI limits, each with a reason a user can act on.
 */
import { describe, expect, it } from 'vitest';
import { checkNodeName, checkTypedUri, limitProblems, uriLimitsFromEntries, uriProblems } from '../../main/tree/uri-check.js';

describe('checkTypedUri', () => {
  it('accepts node URIs as the tree names them', () => {
    for (const u of ['.', './DevInfo/DevId', 'DevInfo/DevId', './DMAcc/dmw/AppAddr/srv']) expect(checkTypedUri(u)).toBeNull();
  });

  it('refuses an empty segment, a climb, a dot inside, a trailing slash and an absolute path, saying which', () => {
    expect(checkTypedUri('./a//b')).toBe('"./a//b" has an empty segment ("//")');
    expect(checkTypedUri('./a/../b')).toMatch(/climbs with "\.\."/);
    expect(checkTypedUri('../a')).toMatch(/climbs/);
    expect(checkTypedUri('./a/./b')).toMatch(/"\.\/" other than at its start/);
    expect(checkTypedUri('./a/')).toMatch(/ends with "\/"/);
    expect(checkTypedUri('/DevInfo')).toMatch(/not a URI relative to the tree root/);
    expect(checkTypedUri('')).toMatch(/a node URI/);
  });

  it('takes a query only where the field does, and only ?prop= or ?list=', () => {
    expect(checkTypedUri('./DMAcc?prop=ACL')).toMatch(/"\?" at character 8 is outside a query/);
    expect(checkTypedUri('./DMAcc?prop=ACL', { query: true })).toBeNull();
    expect(checkTypedUri('./DMAcc?list=TNDS+ACL+Value', { query: true })).toBeNull();
    expect(checkTypedUri('./a?b/c', { query: true })).toMatch(/outside a query: after "\?" comes prop=<Name> or list=/);
    expect(checkTypedUri('./a?prop=ACL?x', { query: true })).toMatch(/outside a query/);
  });

  it("checks MaxDepth, MaxTotLen and MaxSegLen when the device's limits are known", () => {
    const limits = { maxDepth: 3, maxTotLen: 20, maxSegLen: 6 };
    expect(checkTypedUri('./A/B/C', { limits })).toBeNull();
    expect(checkTypedUri('./A/B/C/D', { limits })).toBe(`"./A/B/C/D" is beyond the device's DevDetail/URI limits: 4 segments > MaxDepth 3`);
    expect(checkTypedUri('./ABCDEFG', { limits })).toMatch(/a 7-byte segment > MaxSegLen 6/);
    expect(checkTypedUri('./ABCDE/ABCDE/ABCDE', { limits })).toBeNull(); // 19 bytes
    expect(limitProblems('./ABCDE/ABCDE/ABCDEF', { ...limits, maxTotLen: 19 })).toEqual(['20 bytes > MaxTotLen 19']);
    // UTF-8 bytes, as the device's parser counts them; the query is not part of the path.
    expect(limitProblems('./äää', { maxSegLen: 5 })).toEqual(['a 6-byte segment > MaxSegLen 5']);
    expect(limitProblems('./A?prop=ACL', { maxTotLen: 3 })).toEqual([]);
  });

  it('reads the limits from the tree the server cached (0 = unlimited)', () => {
    const entries = [
      { uri: './DevDetail/URI/MaxDepth', data: '3' },
      { uri: './DevDetail/URI/MaxTotLen', data: '0' },
      { uri: 'DevDetail/URI/MaxSegLen', data: ' 32 ' },
      { uri: './DevInfo/DevId', data: 'IMEI:1' },
    ];
    expect(uriLimitsFromEntries(entries)).toEqual({ maxDepth: 3, maxSegLen: 32 });
  });

  it('gives the judge one problem per rule, the form the first', () => {
    expect(uriProblems('./a//b/').map((p) => p.kind)).toEqual(['empty-segment', 'trailing-slash']);
    expect(uriProblems('./a/b/').map((p) => p.kind)).toEqual(['trailing-slash']);
    expect(uriProblems('./a?x').map((p) => p.kind)).toEqual([]); // the judge leaves queries to the parser
  });
});

describe('checkNodeName', () => {
  it('takes one segment', () => {
    expect(checkNodeName('Name')).toBeNull();
    expect(checkNodeName('')).toBe('a node name');
    expect(checkNodeName('a/b')).toMatch(/no "\/"/);
    expect(checkNodeName('..')).toMatch(/not a node name/);
    expect(checkNodeName('a?b')).toMatch(/no "\?"/);
  });
});
