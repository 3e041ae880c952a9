import SwiftASN1

/// PEM text as files and responses carry it: every block ends with a newline. swift-asn1's
/// `pemString` does not, and a file without one breaks `cat a.crt b.key > both.pem`, which
/// HAProxy, nginx and many other tools ask for.
public enum PEMText {
    public static func of(_ documents: [PEMDocument]) -> String {
        documents.map { $0.pemString + "\n" }.joined()
    }

    public static func of(_ documents: PEMDocument...) -> String { of(documents) }
}
