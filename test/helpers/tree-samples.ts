/** Trees and DDFs the tree tests (unit and fuzz) start from. */
import { createDeviceTree } from '../../main/tree/mos.js';
import type { DmTree } from '../../main/tree/tree.js';

/** A fixed clock, so timestamps in exported trees compare. */
export const TREE_CLOCK = () => Date.UTC(2024, 0, 15, 9, 30, 0);

/** A device tree with two management authorities, srvA and srvB, each with its own DMAcc account. */
export function twoAuthorityTree(): DmTree {
  return createDeviceTree({
    clock: TREE_CLOCK,
    accounts: [
      { serverId: 'srvA', clientCred: { name: 'dev', secret: 'client-secret-A' }, serverCred: { name: 'srvA', secret: 'server-secret-A' } },
      { serverId: 'srvB', clientCred: { name: 'dev', secret: 'client-secret-B' }, serverCred: { name: 'srvB', secret: 'server-secret-B' } },
    ],
  });
}

/**
 * A DDF shaped like FUMO's (interior node with a DDFName, leaves of several formats, a CIS node),
 * shared by the DDF unit tests and the tree fuzz tests as a valid seed.
 */
export const FUMO_LIKE = `<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Man>Acme</Man><Mod>X1</Mod>
  <Node><NodeName/>
    <DFProperties><AccessType><Get/><Add/><Delete/></AccessType><DFFormat><node/></DFFormat><Occurrence><ZeroOrMore/></Occurrence><Scope><Dynamic/></Scope>
      <DFTitle>Firmware package</DFTitle><DFType><DDFName>urn:oma:mo:oma-fumo:1.0</DDFName></DFType></DFProperties>
    <Node><NodeName>PkgName</NodeName><DFProperties><AccessType><Get/><Replace/></AccessType><DFFormat><chr/></DFFormat><Occurrence><ZeroOrOne/></Occurrence><DFType><MIME>text/plain</MIME></DFType></DFProperties></Node>
    <Node><NodeName>State</NodeName><DFProperties><AccessType><Get/></AccessType><DFFormat><int/></DFFormat><Occurrence><One/></Occurrence><Description>10 idle, 20 downloading</Description></DFProperties></Node>
    <Node><NodeName>Update</NodeName><DFProperties><AccessType><Get/></AccessType><DFFormat><node/></DFFormat><Occurrence><One/></Occurrence></DFProperties>
      <Node><NodeName>PkgData</NodeName><DFProperties><AccessType><Exec/><Replace/></AccessType><DFFormat><bin/></DFFormat><CaseSense><CIS/></CaseSense></DFProperties></Node>
    </Node>
  </Node>
</MgmtTree>`;
