import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The optional plain-HTTP listener. It serves nothing: a request for a routed host gets a
/// permanent redirect to the same canonical path on HTTPS, anything else a 404. It never
/// redirects to a host that no route names, so it cannot be used as an open redirect, and the
/// redirect keeps the method and body (308) so no form is silently turned into a GET. The body
/// itself is never read here: a request still sending one has its connection closed once
/// answered (``UnreadBodyCloser``).
public enum HTTPSRedirectListener {
    public static func application(
        host: String, port: Int, httpsPort: @escaping @Sendable () -> Int, routes: RouteHolder, logger: Logger,
        onStarted: @escaping @Sendable (SocketAddress?) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            responder: Responder(httpsPort: httpsPort, routes: routes),
            server: .http1(additionalChannelHandlers: [UnreadBodyCloser(http2: false)]),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onStarted(channel.localAddress) },
            logger: logger)
    }

    struct Responder: HTTPResponder {
        typealias Context = BasicRequestContext
        /// The HTTPS listener's port (read per request: with port 0 it is known only once bound).
        let httpsPort: @Sendable () -> Int
        let routes: RouteHolder

        func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
            Self.answer(request.head, httpsPort: httpsPort(), routes: routes.table)
        }

        static func answer(_ head: HTTPRequest, httpsPort: Int, routes: RouteTable<RouteSettings>) -> Response {
            let requestID = GatewayResponder.newRequestID()
            let canonical: CanonicalRequest
            do {
                canonical = try RequestCanonicalizer.canonicalize(head)
            } catch {
                return GatewayAnswers.json(.badRequest, ["error": "bad_request", "message": error.description], requestID: requestID)
            }
            guard routes.match(canonical) != nil else {
                return GatewayAnswers.json(.notFound, ["error": "not_found", "message": "no route for this host and path"], requestID: requestID)
            }
            return Response(
                status: .permanentRedirect,
                headers: [
                    .location: location(canonical, httpsPort: httpsPort), .cacheControl: "no-store", GatewayHeaders.requestID: requestID,
                    .connection: "close",
                ])
        }

        /// `https://<canonical host>[:port]<canonical target>`; the port only when not 443.
        static func location(_ canonical: CanonicalRequest, httpsPort: Int) -> String {
            "https://" + canonical.host + (httpsPort == 443 ? "" : ":\(httpsPort)") + canonical.forwardedTarget
        }
    }
}
