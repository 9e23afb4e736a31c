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
