import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Tokens

/// The identity service's public keys, fetched from its JWKS and cached.
///
/// An upstream must not trust a key because a token names it: keys come only from the JWKS URL
/// the operator configured. The set is fetched at start, again when a token names a key id the
/// cached set lacks (the identity service publishes the next key a day before it signs with it,
/// so this is rare and rate-limited), and again once the cached copy is older than `maxAge`, so a
/// key withdrawn from the JWKS stops verifying here too. A failed refresh keeps the cached keys.
/// Concurrent refreshes share one fetch.
public actor GatewayKeySet {
    /// Where and how often keys are fetched.
    public struct Settings: Sendable {
        public var url: URL
        /// Shortest time between two fetches caused by unknown key ids: a flood of made-up `kid`s
        /// costs the identity service at most one request per interval.
        public var unknownKeyRefreshInterval: Duration
        /// Age after which the next request refetches the set.
        public var maxAge: Duration
        /// Time allowed for one fetch.
        public var timeout: Duration

        public init(
            url: URL, unknownKeyRefreshInterval: Duration = .seconds(10), maxAge: Duration = .seconds(300),
            timeout: Duration = .seconds(5)
        ) {
            self.url = url
            self.unknownKeyRefreshInterval = unknownKeyRefreshInterval
            self.maxAge = maxAge
            self.timeout = timeout
        }
    }

    /// Largest JWKS document accepted.
    static let maxDocumentBytes = 256 * 1024

    private let settings: Settings
    private let client: HTTPClient
    private let logger: Logger
    private var cached: (keys: VerificationKeys, fetchedAt: ContinuousClock.Instant)?
    private var lastAttempt: ContinuousClock.Instant?
    private var lastFailure: KeySetError?
    private var inFlight: Task<Void, Never>?

    public init(settings: Settings, client: HTTPClient = .shared, logger: Logger) {
        self.settings = settings
        self.client = client
        self.logger = logger
    }

    /// The cached keys, fetched first if there are none yet or they are older than `maxAge`.
    /// Throws only when no key set was ever obtained.
    public func keys() async throws(KeySetError) -> VerificationKeys {
        if let cached, ContinuousClock.now - cached.fetchedAt < settings.maxAge { return cached.keys }
        await refresh()
        return try current()
    }

    /// The keys after a token named an unknown key id: refetched unless the last fetch was less
    /// than `unknownKeyRefreshInterval` ago.
    public func keysAfterUnknownKeyID() async throws(KeySetError) -> VerificationKeys {
        if cached == nil || lastAttempt.map({ ContinuousClock.now - $0 >= settings.unknownKeyRefreshInterval }) ?? true {
            await refresh()
        }
        return try current()
    }

    private func current() throws(KeySetError) -> VerificationKeys {
        if let cached { return cached.keys }
        throw lastFailure ?? .unreachable(settings.url.absoluteString, "no fetch attempted")
    }

    /// Fetches once, or joins a fetch already running. The outcome is stored by the fetching task
    /// itself, so every caller that awaited it sees the new state.
    private func refresh() async {
        if let inFlight {
            await inFlight.value
            return
        }
        let task = Task { await self.fetchAndStore() }
        inFlight = task
        await task.value
    }

    private func fetchAndStore() async {
        let result = await Self.fetch(settings: settings, client: client)
        inFlight = nil
        lastAttempt = .now
        switch result {
        case let .success(keys):
            if cached.map({ Set($0.keys.byID.keys) != Set(keys.byID.keys) }) ?? true {
                logger.info("gateway key set loaded", metadata: ["url": "\(settings.url)", "key_ids": "\(keys.byID.keys.sorted())"])
            }
            cached = (keys, .now)
            lastFailure = nil
        case let .failure(error):
            lastFailure = error
            logger.warning(
                "gateway key set not refreshed",
                metadata: [
                    "url": "\(settings.url)", "error": "\(error)",
                    "cached_keys": "\(cached?.keys.byID.count ?? 0)",
                ])
        }
    }

    private static func fetch(settings: Settings, client: HTTPClient) async -> Result<VerificationKeys, KeySetError> {
        let address = settings.url.absoluteString
        var request = HTTPClientRequest(url: address)
        request.headers.add(name: "accept", value: "application/json")
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(settings.timeout.components.seconds) * 1_000_000_000))
            guard response.status == .ok else {
                return .failure(.unexpectedStatus(address, Int(response.status.code)))
            }
            body = try await response.body.collect(upTo: maxDocumentBytes)
        } catch is NIOTooManyBytesError {
            return .failure(.invalidDocument(address, "larger than \(maxDocumentBytes) bytes"))
        } catch {
            return .failure(.unreachable(address, "\(error)"))
        }
        do {
            let keys = try VerificationKeys(jwks: Data(buffer: body))
            guard !keys.byID.isEmpty else { return .failure(.invalidDocument(address, "the key set is empty")) }
            return .success(keys)
        } catch {
            return .failure(.invalidDocument(address, error.description))
        }
    }
}

/// Why no key set is available.
public enum KeySetError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreachable(String, String)
    case unexpectedStatus(String, Int)
    case invalidDocument(String, String)

    public var description: String {
        switch self {
        case let .unreachable(url, reason): "JWKS \(url) unreachable: \(reason)"
        case let .unexpectedStatus(url, status): "JWKS \(url) answered HTTP \(status)"
        case let .invalidDocument(url, reason): "JWKS \(url) refused: \(reason)"
        }
    }
}
