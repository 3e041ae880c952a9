import Foundation

extension Pipe {
    /// Everything the child wrote, then the read end closed. Foundation keeps a `Process` (and the
    /// pipes it was given) for as long as it has not reaped the child, which in a busy test process
    /// can be forever; read ends left open that way piled up to over 900 descriptors in a full run,
    /// and past ~1,350 Foundation's own `Process.run()` over-reads its /proc/self/fd listing and
    /// crashes (swift-corelibs-foundation PR #5472).
    public func readToEndAndClose() -> Data {
        let data = fileHandleForReading.readDataToEndOfFile()
        try? fileHandleForReading.close()
        return data
    }
}
