import Cedar
import Foundation
import Tokens

/// Loads the Cedar policy set from a directory of `*.cedar` files (name order). The whole set
/// parses or nothing is used; its version is the BLAKE2b-256 of the files' names and contents.
public enum PolicyDirectory {
    public struct Loaded: Sendable {
        public let set: PolicySet
        public let version: String
        public let files: [String]
    }

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String)
        case invalid(PolicySetError)

        public var description: String {
            switch self {
            case let .unreadable(reason): reason
            case let .invalid(error): error.description
            }
        }
    }

    public static func load(_ path: String) throws(LoadError) -> Loaded {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".cedar") }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw .unreadable("\(path): cannot list the policy directory")
        }
        var sources: [PolicySource] = []
        var hashed: [[UInt8]] = []
        for name in names {
            let file = (path as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: file), let text = String(validating: data, as: UTF8.self) else {
                throw .unreadable("\(file): cannot read the file as UTF-8")
            }
            sources.append(PolicySource(name: file, text: text))
            hashed += [Array(name.utf8), [0], Array(data), [0]]
        }
        switch PolicySet.parse(sources) {
        case let .success(set):
            let version = Digest.blake2b256(hashed).map { String(format: "%02x", $0) }.joined()
            return Loaded(set: set, version: version, files: sources.map(\.name))
        case let .failure(error):
            throw .invalid(error)
        }
    }
}
