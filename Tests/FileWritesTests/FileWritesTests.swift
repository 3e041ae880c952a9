import FileWrites
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Real files in a fresh temporary directory: whole writes, staged files that appear only when
/// committed and with exactly the mode asked for, and failures that carry errno.
@Suite struct FileWritesTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("file-writes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    @Test func writeAllWritesEveryByte() throws {
        let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let descriptor = open(path("all"), O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #expect(descriptor >= 0)
        try writeAll(bytes, to: descriptor)
        close(descriptor)
        #expect(FileManager.default.contents(atPath: path("all")) == Data(bytes))
    }

    @Test func writeAllReportsErrno() throws {
        let descriptor = open(path("read-only"), O_RDONLY | O_CREAT | O_EXCL, 0o600)
        defer { close(descriptor) }
        #expect(throws: FileWriteError(code: EBADF)) { try writeAll([1, 2, 3], to: descriptor) }
        #expect(FileWriteError(code: EBADF).description == String(cString: strerror(EBADF)))
    }

    @Test func aStagedFileAppearsOnlyWhenCommitted() throws {
        try Data("old".utf8).write(to: URL(fileURLWithPath: path("secret")))
        let staged = try StagedFile(contents: Array("new".utf8), destination: path("secret"), mode: 0o600)
        #expect(String(decoding: FileManager.default.contents(atPath: path("secret")) ?? Data(), as: UTF8.self) == "old")
        #expect(try entries().count == 2)
        try staged.commit()
        #expect(String(decoding: FileManager.default.contents(atPath: path("secret")) ?? Data(), as: UTF8.self) == "new")
        #expect(try entries() == ["secret"])
    }

    /// 0666 is what any usual umask (022, 077) would cut down; the umask is not changed here, as
    /// it belongs to the whole test process.
    @Test func theModeIsExactlyWhatWasAskedDespiteTheUmask() throws {
        try StagedFile(contents: [0x41], destination: path("shared"), mode: 0o666).commit()
        let attributes = try FileManager.default.attributesOfItem(atPath: path("shared"))
        #expect((attributes[.posixPermissions] as? Int) == 0o666)
    }

    @Test func aDiscardedStagedFileLeavesNothing() throws {
        let staged = try StagedFile(contents: [1], destination: path("never"), mode: 0o600)
        staged.discard()
        #expect(try entries().isEmpty)
    }

    @Test func stagingInAMissingDirectoryFailsWithItsErrno() {
        #expect(throws: FileWriteError(code: ENOENT)) {
            try StagedFile(contents: [1], destination: path("missing/file"), mode: 0o600)
        }
    }
}
