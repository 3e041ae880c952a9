import FileWrites

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Certificates and keys are staged as PEM text; a failure is reported as the PKI reports every
/// file it cannot write: `PKIError.writeFailed` naming the file.
extension StagedFile {
    init(pem text: String, destination: String, mode: mode_t) throws(PKIError) {
        do {
            try self.init(contents: Array(text.utf8), destination: destination, mode: mode)
        } catch {
            throw .writeFailed(path: destination, reason: error.description)
        }
    }

    func commitPEM() throws(PKIError) {
        do {
            try commit()
        } catch {
            throw .writeFailed(path: destinationPath, reason: error.description)
        }
    }
}
