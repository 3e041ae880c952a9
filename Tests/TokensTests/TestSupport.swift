import Foundation
import XCTest

@testable import Tokens

/// Loads a JSON fixture that sits next to this file (Fixtures/), independent of bundle resources.
func fixture(_ name: String, file: StaticString = #filePath) throws -> Data {
    let url = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    return try Data(contentsOf: url)
}

func hex(_ text: String) -> [UInt8] {
    var out = [UInt8]()
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        out.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return out
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A fixed clock value: tests pass times explicitly instead of sleeping.
let testNow = Date(timeIntervalSince1970: 1_900_000_000)

func sampleClaims(
    now: Date = testNow, lifetime: TimeInterval = 600, audience: [String] = ["portcullis-gateway"],
    sessionID: String? = "sess-1", tokenID: String = "jti-1"
) -> Claims {
    Claims(
        issuer: "https://id.portcullis.test", subject: "alice", audience: audience, issuedAt: now,
        expiresAt: now.addingTimeInterval(lifetime), tokenID: tokenID, subjectKind: .user,
        roles: ["admin"], groups: ["eng", "ops"], sessionID: sessionID, authMethods: ["pwd", "otp"],
        mfaTime: now.addingTimeInterval(-60), deviceID: "dev-42")
}

let samplePolicy = ClaimsPolicy(issuers: ["https://id.portcullis.test"], audiences: ["portcullis-gateway"])

/// Runs Tests/interop/tokens_interop.py with the interpreter in PORTCULLIS_PYTHON (default:
/// the repository's .venv). Without an interpreter the test fails and says how to get one
/// (scripts/test creates it), so interop can never silently disappear.
struct Interop {
    let python: String
    let script: String

    static func locate(file: StaticString = #filePath) throws -> Interop {
        let testsDir = URL(fileURLWithPath: "\(file)").resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
        let repo = testsDir.deletingLastPathComponent()
        let environment = ProcessInfo.processInfo.environment
        let python = environment["PORTCULLIS_PYTHON"] ?? repo.appendingPathComponent(".venv/bin/python").path
        let script = testsDir.appendingPathComponent("interop/tokens_interop.py").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure(description: "Python interpreter for interop not found at \(python): run scripts/test or set PORTCULLIS_PYTHON")
        }
        return Interop(python: python, script: script)
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Runs one mode; throws with Python's stderr if the helper fails.
    func run(_ mode: String, _ request: [String: Any]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, mode]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: request))
        try input.fileHandleForWriting.close()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        try? output.fileHandleForReading.close()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        try? errors.fileHandleForReading.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(mode) failed: \(String(decoding: stderr, as: UTF8.self))")
        }
        return try JSONSerialization.jsonObject(with: stdout) as! [String: Any]
    }
}
