/**
 * Every name in a subjectAltName extension, in order, including the kinds @peculiar/x509 does
 * not model.
 *
 * Why not just `SubjectAlternativeNameExtension.names.items`: @peculiar/x509 silently SKIPS the
 * names it cannot represent (otherName other than UPN/GUID, X.400 address, EDI party name). A
 * CSR check built on it would wave through a CSR asking for such a name. The decoding itself is
 * still the library's: this reads the ASN.1 objects its `GeneralNames` class already parsed.
 */
import { GeneralNames, Name, type Extension } from '../x509';

export const SAN_OID = '2.5.29.17';

export type SanEntry =
  | { type: 'dns' | 'uri' | 'email' | 'ip' | 'registeredId' | 'otherName' | 'x400Address' | 'ediPartyName'; value: string }
  | { type: 'directoryName'; value: string; name: Name };

class GeneralNamesReader extends GeneralNames {
  entries(): SanEntry[] {
    return this.asn.map((gn): SanEntry => {
      if (gn.dNSName !== undefined) return { type: 'dns', value: gn.dNSName };
      if (gn.uniformResourceIdentifier !== undefined) return { type: 'uri', value: gn.uniformResourceIdentifier };
      if (gn.rfc822Name !== undefined) return { type: 'email', value: gn.rfc822Name };
      if (gn.iPAddress !== undefined) return { type: 'ip', value: gn.iPAddress };
      if (gn.registeredID !== undefined) return { type: 'registeredId', value: gn.registeredID };
      if (gn.directoryName !== undefined) {
        const name = new Name(gn.directoryName);
        return { type: 'directoryName', value: name.toString(), name };
      }
      if (gn.otherName !== undefined) return { type: 'otherName', value: gn.otherName.typeId };
      if (gn.ediPartyName !== undefined) return { type: 'ediPartyName', value: gn.ediPartyName.partyName.toString() };
      return { type: 'x400Address', value: '' };
    });
  }
}

/** Names of one subjectAltName extension. Throws when its value is not a DER GeneralNames. */
export function readSanExtension(extension: Extension): SanEntry[] {
  return new GeneralNamesReader(extension.value).entries();
}

/** Names of all subjectAltName extensions in the list (normally zero or one), in order. */
export function readSanNames(extensions: readonly Extension[]): SanEntry[] {
  return extensions.filter((e) => e.type === SAN_OID).flatMap(readSanExtension);
}
