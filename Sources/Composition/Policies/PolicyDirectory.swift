import Cedar
import Foundation
import PolicyStore

/// Loads the Cedar policy set from a directory of `*.cedar` files (name order). The whole set
/// parses or nothing is used; its version is the BLAKE2b-256 of the files' names and contents,
/// the same hash the policy store gives the same files (`PolicyBundle.version(of:)`).
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
        let files: [PolicyBundle.File]
        do {
            files = try PolicyBundle.policyFiles(in: path)
        } catch {
            throw .unreadable(error.description)
        }
        switch PolicyBundle.parse(files, origin: path) {
        case let .success(set):
            return Loaded(set: set, version: PolicyBundle.version(of: files), files: files.map { PolicyBundle.path(path, $0.name) })
        case let .failure(error):
            throw .invalid(error)
        }
    }
}
