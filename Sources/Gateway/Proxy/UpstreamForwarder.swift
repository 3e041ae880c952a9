import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// Why an upstream exchange failed; mapped to 502 or 504 with the request id, never a trace.
public enum UpstreamFailure: Error, Sendable {
    case unreachable(String)
    case timedOut

    var status: HTTPResponse.Status {
        switch self {
        case .unreachable: .badGateway
        case .timedOut: .gatewayTimeout
        }
    }
}

/// Sends the canonical request to the route's upstream over a pooled keep-alive client and
/// streams both bodies: nothing is buffered whole. Redirects are passed back, never followed,
/// and content is never decoded.
public struct UpstreamForwarder: Sendable {
    let client: HTTPClient

    public init(client: HTTPClient) {
        self.client = client
    }

    /// The client configuration a proxy needs (AsyncHTTPClient's defaults follow redirects).
    public static func clientConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: .seconds(60)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 128),
            decompression: .disabled)
        configuration.httpVersion = .automatic
        return configuration
    }

    func forward(_ request: Request, canonical: CanonicalRequest, route: RouteSettings, headers: HTTPFields) async throws(UpstreamFailure) -> Response {
        var upstream = HTTPClientRequest(url: Self.url(route.upstream, target: canonical.forwardedTarget))
        upstream.method = HTTPMethod(rawValue: canonical.method.rawValue)
        upstream.headers = Self.nioHeaders(headers)
        upstream.tlsConfiguration = route.upstreamTLS?.configuration
        switch canonical.bodyFraming {
        case .unframed:
            break
        case let .contentLength(length):
            upstream.body = .stream(request.body, length: .known(Int64(length)))
        case .chunked:
            upstream.body = .stream(SizeLimitedBody(base: request.body, limit: route.maxBodyBytes), length: .unknown)
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(upstream, timeout: TimeAmount.nanoseconds(Int64(route.timeout.components.seconds) * 1_000_000_000
                                                                                              + route.timeout.components.attoseconds / 1_000_000_000))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw error == .connectTimeout ? .unreachable("connect timeout") : .timedOut
        } catch {
            throw .unreachable("\(error)")
        }
        var fields = HTTPFields()
        for header in response.headers {
            guard let name = HTTPField.Name(header.name) else { continue }
            fields.append(HTTPField(name: name, value: header.value))
        }
        return Response(status: .init(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase),
                        headers: ResponseHeaders.sanitized(fields), body: .init(asyncSequence: response.body))
    }

    /// The upstream base URL with the canonical target appended under its path.
    static func url(_ base: URL, target: String) -> String {
        var text = base.absoluteString
        if text.hasSuffix("/") { text.removeLast() }
        return text + target
    }

    static func nioHeaders(_ fields: HTTPFields) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count)
        for field in fields { headers.add(name: field.name.canonicalName, value: field.value) }
        return headers
    }
}

/// Headers an upstream may not pass to the client: hop-by-hop ones (RFC 9110 §7.6.1).
enum ResponseHeaders {
    static func sanitized(_ fields: HTTPFields) -> HTTPFields {
        IdentityHeaderFilter.removingHopByHop(from: fields)
    }
}

/// A streamed request body cut off at the route's limit: the upstream request fails (and the
/// client gets an error) instead of the gateway relaying an unbounded chunked body.
struct SizeLimitedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    struct TooLarge: Error {}

    let base: Base
    let limit: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var remaining: Int

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            remaining -= chunk.readableBytes
            if remaining < 0 { throw TooLarge() }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), remaining: limit) }
}
