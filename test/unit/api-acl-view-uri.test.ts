/** The ACL matrix refuses a URI no device takes, with the reason (issue 18 point 6 (4): `./a//b`). */
import { describe, expect, it } from 'vitest';
import { aclMatrix } from '../../main/api/acl-view.js';

const entries = [
  { uri: './DMAcc', format: 'node', type: null, data: null, fetchedAt: '2026-01-01T00:00:00Z' },
  { uri: './DMAcc/dmw', format: 'node', type: null, data: null, fetchedAt: '2026-01-01T00:00:00Z' },
  { uri: './DevDetail/URI/MaxDepth', format: 'int', type: null, data: '2', fetchedAt: '2026-01-01T00:00:00Z' },
];

describe('aclMatrix and malformed URIs', () => {
  it('names the defect instead of asking the device for ./a//b?prop=ACL', () => {
    expect(() => aclMatrix('IMEI:1', './a//b', entries, 'dmw')).toThrow('"./a//b" has an empty segment ("//")');
    expect(() => aclMatrix('IMEI:1', './a/../b', entries, 'dmw')).toThrow(/climbs with "\.\."/);
    expect(() => aclMatrix('IMEI:1', './DMAcc?prop=ACL', entries, 'dmw')).toThrow(/outside a query/);
  });

  it("checks the device's MaxDepth when the server has read it", () => {
    expect(() => aclMatrix('IMEI:1', './DMAcc/dmw/AppAddr', entries, 'dmw')).toThrow(/3 segments > MaxDepth 2/);
  });

  it('still takes the root and node URIs', () => {
    expect(aclMatrix('IMEI:1', '.', entries, 'dmw').uri).toBe('.');
    expect(aclMatrix('IMEI:1', './DMAcc/dmw', entries, 'dmw').uri).toBe('./DMAcc/dmw');
  });
});
