import Foundation

/// One versioned schema change, read from `Sources/Database/Migrations/NNNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// `0003_audit_partitions`: the label operators see in reports.
    public var label: String { String(format: "%04d_%@", version, name) }

    /// The migrations shipped with this build, in version order.
    public static func bundled() throws(MigrationError) -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw .missingDirectory("Migrations resource is not in the bundle")
        }
        return try load(from: directory)
    }

    /// Reads every `NNNN_name.sql` file of a directory; any other file is an error, so a typo
    /// in a file name cannot silently skip a migration.
    public static func load(from directory: URL) throws(MigrationError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw .missingDirectory(directory.path)
        }
        var migrations: [Migration] = []
        for file in names.sorted() where !file.hasPrefix(".") {
            guard file.hasSuffix(".sql"), let underscore = file.firstIndex(of: "_"),
                let version = Int(file[..<underscore]), version > 0
            else {
                throw .badFileName(file)
            }
            let name = String(file[file.index(after: underscore)...].dropLast(4))
            guard let sql = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else {
                throw .unreadable(file)
            }
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        try validateOrder(migrations)
        return migrations
    }

    static func validateOrder(_ migrations: [Migration]) throws(MigrationError) {
        var seen = Set<Int>()
        for migration in migrations where !seen.insert(migration.version).inserted {
            throw .duplicateVersion(migration.version)
        }
    }
}

public enum MigrationError: Error, Equatable, CustomStringConvertible {
    case missingDirectory(String)
    case badFileName(String)
    case unreadable(String)
    case duplicateVersion(Int)
    /// The database records a migration this build does not ship: it was migrated by a newer release.
    case unknownAppliedVersion(Int, name: String)
    /// A shipped migration's text differs from what was applied: history was edited.
    case checksumMismatch(String)
    case statementFailed(migration: String, statement: Int, message: String)

    public var description: String {
        switch self {
        case .missingDirectory(let path): "migrations directory not found: \(path)"
        case .badFileName(let file): "migration file '\(file)' is not named NNNN_name.sql"
        case .unreadable(let file): "migration file '\(file)' is not readable UTF-8"
        case .duplicateVersion(let version): "two migration files have version \(version)"
        case .unknownAppliedVersion(let version, let name):
            "the database has migration \(version) (\(name)) which this build does not know; refusing to run against a newer schema"
        case .checksumMismatch(let label):
            "migration \(label) was changed after it was applied; add a new migration instead of editing an applied one"
        case .statementFailed(let migration, let statement, let message):
            "migration \(migration), statement \(statement): \(message)"
        }
    }
}
