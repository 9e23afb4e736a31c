import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACL_COMMANDS, EMPTY_ACL, acl, aclFromEntries, parseAcl, withoutServer, type AclError } from '../../main/tree/acl.js';

function aclErr(text: string): AclError {
  const r = parseAcl(text);
  if (r.ok) throw new Error(`expected ${JSON.stringify(text)} to be refused, got ${r.value.text}`);
  return r.error;
}

describe('ACL grammar (TND 8.3.7.1.5)', () => {
  it('serialises canonically: command order Add, Delete, Exec, Get, Replace; ids in first-seen order', () => {
    expect(acl('Get=*&Add=*').text).toBe('Add=*&Get=*');
    expect(acl('Replace=srvA+srvB&Get=*&Delete=srvA').text).toBe('Delete=srvA&Get=*&Replace=srvA+srvB');
    expect(acl('Get=b&Get=a+b').text).toBe('Get=b+a'); // a command given twice is the union
    expect(acl('Get=srvA+*').text).toBe('Get=*'); // the wildcard overrides the other ids
    expect(acl('Add=*&Delete=*&Exec=*&Get=*&Replace=*').text).toBe('Add=*&Delete=*&Exec=*&Get=*&Replace=*');
    // the spec's own example (server ids with dots, dashes and underscores)
    expect(acl('Add=www.sonera.fi-8765&Delete=www.sonera.fi-8765&Replace=www.sonera.fi-8765+321_ibm.com&Get=*').text).toBe(
      'Add=www.sonera.fi-8765&Delete=www.sonera.fi-8765&Get=*&Replace=www.sonera.fi-8765+321_ibm.com',
    );
  });

  it('interns: equal ACLs are one object, the empty ACL is EMPTY_ACL', () => {
    expect(acl('Get=*&Add=*')).toBe(acl('Add=*&Get=*'));
    expect(parseAcl('').ok && parseAcl('').ok && acl('')).toBe(EMPTY_ACL);
    expect(EMPTY_ACL.isEmpty).toBe(true);
    expect(acl('Get=*').isEmpty).toBe(false);
  });

  it('refuses malformed ACLs with a code and the position of the fault', () => {
    expect(aclErr('Get')).toMatchObject({ code: 'missing-equals', position: 0 });
    expect(aclErr('Get=')).toMatchObject({ code: 'no-server', position: 4 });
    expect(aclErr('Get=a+')).toMatchObject({ code: 'no-server', position: 6 });
    expect(aclErr('Get=a++b')).toMatchObject({ code: 'no-server', position: 6 });
    expect(aclErr('Get=a&&Add=*')).toMatchObject({ code: 'empty-entry', position: 6 });
    expect(aclErr('&Get=*')).toMatchObject({ code: 'empty-entry', position: 0 });
    expect(aclErr('Get=*&')).toMatchObject({ code: 'empty-entry', position: 5 });
    expect(aclErr('Copy=*')).toMatchObject({ code: 'bad-command', position: 0 });
    expect(aclErr('Add=*&get=*')).toMatchObject({ code: 'bad-command', position: 6 });
    expect(aclErr('Get=srv A')).toMatchObject({ code: 'bad-server-id', position: 7 });
    expect(aclErr('Get=a=b')).toMatchObject({ code: 'bad-server-id', position: 5 });
    expect(aclErr('Get=a*b')).toMatchObject({ code: 'bad-server-id', position: 5 });
    const e = aclErr('Add=*&Get=x\ty');
    expect(e.message).toContain('position 11');
    expect(e.message).toContain('"Add=*&Get=x\\ty"');
  });

  it('round-trips: parse(serialize(x)) === x for any ACL (property)', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9._:/-]{1,10}$/);
    const grantees = fc.oneof(fc.constant('*' as const), fc.uniqueArray(id, { minLength: 1, maxLength: 4 }));
    const entries = fc.record(
      Object.fromEntries(ACL_COMMANDS.map((c) => [c, fc.option(grantees, { nil: undefined })])) as Record<
        (typeof ACL_COMMANDS)[number],
        fc.Arbitrary<'*' | string[] | undefined>
      >,
    );
    fc.assert(
      fc.property(entries, (e) => {
        const clean = Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined));
        const built = aclFromEntries(clean);
        expect(built.ok).toBe(true);
        if (!built.ok) return;
        const again = parseAcl(built.value.text);
        expect(again.ok && again.value).toBe(built.value);
        expect(built.value.entries()).toEqual(clean);
      }),
    );
  });

  it('answers allows() per command, with * for everyone', () => {
    const a = acl('Get=*&Replace=srvA+srvB');
    expect(a.allows('Get', 'anyone')).toBe(true);
    expect(a.allows('Replace', 'srvB')).toBe(true);
    expect(a.allows('Replace', 'srvC')).toBe(false);
    expect(a.allows('Delete', 'srvA')).toBe(false);
    expect(EMPTY_ACL.allows('Get', 'srvA')).toBe(false);
  });

  it('removes a ServerID: empty commands disappear, on the root they become *', () => {
    expect(withoutServer(acl('Add=srvA&Get=srvA+srvB'), 'srvA', false).text).toBe('Get=srvB');
    expect(withoutServer(acl('Get=srvA&Replace=srvA'), 'srvA', false)).toBe(EMPTY_ACL); // now inherits
    expect(withoutServer(acl('Add=*&Get=*&Replace=srvA'), 'srvA', true).text).toBe('Add=*&Get=*&Replace=*');
    const untouched = acl('Get=srvB');
    expect(withoutServer(untouched, 'srvA', false)).toBe(untouched);
  });
});
