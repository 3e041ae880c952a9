// swift-tools-version:6.2
import PackageDescription

// Dependencies point one way: domain modules (Cedar, Tokens, PKI, Database, PolicyStore,
// Identity, Audit, Gateway) never import Composition or the executable; `Cedar` imports nothing
// of ours; `portcullis` is the only composition root.
let package = Package(
    name: "Portcullis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"]),
        .executable(name: "logistics-demo", targets: ["logistics-demo"]),
        .library(name: "Cedar", targets: ["Cedar"]),
        .library(name: "Tokens", targets: ["Tokens"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),

        // MARK: Domain modules
        .target(name: "Cedar"),
        // Portcullis's request model: principal, route and context entities and the decision,
        // shared by the gateway, the admin API and the policy tools.
        .target(name: "AccessModel", dependencies: ["Cedar"]),
        // Strict readers of HTTP request syntax (canonical targets and hosts, form bodies), so
        // the gateway and the identity service read a request the same way.
        .target(name: "HTTPSyntax", dependencies: [.product(name: "HTTPTypes", package: "swift-http-types")]),
        // One home for file writes (whole writes, staged files, directory sync); depends on nothing.
        .target(name: "FileWrites"),
        .target(
            name: "Tokens",
            dependencies: [
                "CSodium", "FileWrites", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),
        .target(
            name: "ChildProcesses",
            dependencies: [
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "PKI",
            dependencies: [
                "FileWrites",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "Database",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Migrations")]
        ),
        .target(
            name: "PolicyStore",
            dependencies: [
                "Cedar",
                "Database",
                "Tokens",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Identity",
            dependencies: [
                "AccessModel",
                "HTTPSyntax",
                "Database",
                "PolicyStore",
                "Tokens",
                "Audit",
                "Cedar",
                "PKI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Audit",
            dependencies: [
                "Database",
                "Tokens",
                "FileWrites",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Portcullis as an OpenID Connect relying party of the company's identity providers.
        .target(
            name: "Federation",
            dependencies: [
                "Tokens",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]),
        .target(
            name: "Gateway",
            dependencies: [
                "AccessModel", "HTTPSyntax", "Cedar", "Tokens", "PKI", "Audit",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP2", package: "swift-nio-extras"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),

        // The admin console (issue 11): server-rendered pages the gateway serves under
        // `/.portcullis/admin/` after authenticating and authorizing the request.
        .target(
            name: "OIDCProvider",
            dependencies: ["Identity", "Gateway", "Tokens", .product(name: "JWTKit", package: "jwt-kit")]),
        .target(
            name: "Console",
            dependencies: [
                "Identity", "Audit", "PolicyStore", "Gateway", "PKI", "HTTPSyntax", "Federation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Templates"), .copy("Assets")]
        ),

        // MARK: Composition root
        .target(
            name: "Composition",
            dependencies: [
                "AccessModel",
                "Database",
                "Audit",
                "Tokens",
                "Cedar",
                "Identity",
                "Gateway",
                "Federation",
                "OIDCProvider",
                "Console",
                "PKI",
                "ChildProcesses",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                "PolicyStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "portcullis",
            dependencies: [
                "AccessModel",
                "Composition",
                "Cedar",
                "Tokens",
                "Audit",
                "PKI",
                "Identity",
                "Federation",
                "PolicyStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // MARK: Demo upstreams (issue 10): trust the gateway's signed assertion, not the network
        .target(
            name: "LogisticsDemo",
            dependencies: [
                "Tokens",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "logistics-demo",
            dependencies: [
                "LogisticsDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Tests
        .target(
            name: "TestSupport",
            dependencies: [
                "Database",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "CedarTests", dependencies: ["Cedar"], exclude: ["Fixtures"]),
        .testTarget(name: "AccessModelTests", dependencies: ["AccessModel", "Cedar"]),
        .testTarget(name: "TokensTests", dependencies: ["Tokens"], exclude: ["Fixtures"]),
        .testTarget(name: "ChildProcessesTests", dependencies: ["ChildProcesses"]),
        .testTarget(name: "FileWritesTests", dependencies: ["FileWrites"]),
        .testTarget(name: "DatabaseTests", dependencies: ["Database", "TestSupport"]),
        .testTarget(
            name: "AuditTests",
            dependencies: [
                "Audit", "Tokens", "TestSupport", "Database", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "PKITests",
            dependencies: [
                "PKI", "TestSupport", .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(name: "FederationTests", dependencies: ["Federation", "TestSupport"]),
        .testTarget(name: "CompositionTests", dependencies: ["Composition", "Gateway", "TestSupport"]),
        .testTarget(
            name: "PolicyStoreTests",
            dependencies: [
                "PolicyStore", "Cedar", "Database", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "HTTPSyntax", "AccessModel", .product(name: "HTTPTypes", package: "swift-http-types"),
                // The conversion the HTTP/1.1 pipeline applies, to pin what `HTTP1Target` relies on.
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                // `UnreadBodyCloser` on an embedded channel.
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                // … and on an HTTP/2 stream, with the frames it writes.
                .product(name: "NIOHTTP2", package: "swift-nio-http2"), .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTPTypesHTTP2", package: "swift-nio-extras"),
                // Real certificates from the internal CA for the client-certificate checks.
                "PKI", .product(name: "X509", package: "swift-certificates"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                // The gateway in-process (InProcess/): its real parts, an audit recorder, and an upstream on a socket.
                "Audit", "Tokens", "Cedar", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "IdentityTests",
            dependencies: [
                "Identity", "AccessModel", "Composition", "Tokens", "Audit", "Cedar", "TestSupport", "PKI",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "LogisticsDemoTests",
            dependencies: [
                "LogisticsDemo", "Tokens",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TestSupport", "Audit", "Database", "Console", "Tokens",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            exclude: ["Fixtures"]),
    ]
)
