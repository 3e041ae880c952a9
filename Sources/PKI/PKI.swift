// PKI: the internal certificate authority (root and issuing intermediate), SPIFFE
// service certificates, CSR signing, revocation lists and chain verification.
// Built on swift-certificates and swift-asn1 (issue 8).
