import AccessModel
import Audit
import Federation
import Foundation
import Gateway
import Hummingbird
import Identity
import Logging
import OIDCProvider
import PolicyStore
import ServiceLifecycle
import Synchronization
import Tokens

/// Builds the gateway of `portcullis serve` from the configuration and the identity parts it
/// shares (keys, revocation feed), plus the reloader that keeps its files current.
enum GatewayRuntime {
    struct Parts {
        /// The HTTPS listener, the optional HTTP-to-HTTPS redirect listener, and the reloader.
        let services: [any Service]
    }

    static func assemble(
        configuration: PortcullisConfiguration, parts: IdentityRuntime.Parts, masterKey: MasterKey, policies: PolicyHolder,
        policyFeed: PolicyFeed?, recorder: any AuditRecorder, upstreamClient: UpstreamClient, console: EmbeddedMount?, telemetry: Telemetry,
        logger: Logger
    ) throws -> Parts {
        let settings = configuration.gateway.settings
        let routes = RouteHolder(try RouteSettings.table(configuration.gateway.routes))
        let credentials = try ServerCredentials(certificateFile: settings.certificateFile, keyFile: settings.keyFile)
        let clientTrust = try settings.clientCAFile.map { file throws in
            try ClientTrust(bundleFile: file, trustDomain: configuration.gateway.trustDomain ?? "")
        }
        // Revoked certificate serials follow the feed: refused from the next handshake on.
        if let clientTrust { parts.feed.observe { clientTrust.setRevokedSerials($0.revokedSerials) } }
        let cookieKey = try PasetoLocalKey(bytes: masterKey.derivedKey(purpose: "gateway-session-cookie"))
        // Cookies are sealed and opened by gateways on synchronised clocks: no skew allowance,
        // so the idle timeout is exact.
        let sessions = SessionCookieCodec(
            current: cookieKey,
            policy: ClaimsPolicy(
                issuers: [settings.assertionIssuer], audiences: [settings.assertionIssuer], clockSkew: 0,
                maxLifetime: settings.sessionIdleTimeout + 60))
        let keys = parts.keys
        let tokenCache = VerifiedTokenCache()
        let authenticator = Authenticator(
            verificationKeys: { keys.verificationKeys },
            claimsPolicy: ClaimsPolicy(issuers: settings.tokenIssuers, audiences: settings.tokenAudiences),
            sessions: sessions, policiesSynchronized: { policyFeed?.isSynchronized ?? true }, cache: tokenCache)
        let signIn = IdentitySignIn(service: parts.service)
        let activity = SessionActivity()
        let relyingParty =
            try configuration.federation.isEmpty
            ? nil
            : RelyingParty(
                providers: configuration.federation, stateKey: PasetoLocalKey(bytes: masterKey.derivedKey(purpose: "federation-state")))
        let providers = relyingParty.map { IdentityProviderSignIn(relyingParty: $0, service: parts.service) }
        let pages = settings.signInHost.map {
            SignInPages(
                identity: signIn, providers: providers, openID: OpenIDProviderService(identity: parts.service), sessions: sessions,
                settings: settings, host: $0)
        }
        if pages == nil {
            logger.notice("no gateway.sign_in_host: browser sign-in and the admin console are off; tokens and certificates only")
        }
        let responder = GatewayResponder(
            settings: settings, routes: routes, authenticator: authenticator, directory: parts.feed, access: AccessControl(policies: policies),
            forwarder: UpstreamForwarder(client: upstreamClient), signer: { try keys.signer() }, recorder: recorder,
            signInPages: pages, embedded: console, activity: activity, metrics: GatewayMetrics(factory: telemetry.factory), logger: logger)
        let gate = ConnectionGate(limit: settings.limits.maxConnections)
        telemetry.addSampler { writer in
            writer.gauge("portcullis_gateway_open_connections", gate.openConnections)
            writer.counter("portcullis_gateway_refused_connections_total", gate.refusedConnections)
            let lookups = tokenCache.lookups
            writer.counter("portcullis_gateway_token_cache_lookups_total", lookups.hits, labels: ["result": "hit"])
            writer.counter("portcullis_gateway_token_cache_lookups_total", lookups.misses, labels: ["result": "miss"])
            writer.gauge("portcullis_gateway_routes", routes.table.routes.count)
            writer.gauge("portcullis_gateway_upstream_idle_connections", upstreamClient.idleConnections)
        }
        let boundPort = Atomic<Int>(settings.port)
        var services: [any Service] = [
            try GatewayServer.application(
                settings: settings, responder: responder, credentials: credentials, clientTrust: clientTrust, gate: gate, logger: logger,
                onStarted: { address in
                    if let port = address?.port { boundPort.store(port, ordering: .relaxed) }
                    logger.notice("gateway listener started", metadata: ["address": "\(address.map { "\($0)" } ?? "?")"])
                })
        ]
        if let redirect = settings.redirectListen {
            services.append(
                HTTPSRedirectListener.application(
                    host: redirect.host, port: redirect.port, httpsPort: { boundPort.load(ordering: .relaxed) }, routes: routes, logger: logger,
                    onStarted: { address in logger.notice("redirect listener started", metadata: ["address": "\(address.map { "\($0)" } ?? "?")"]) }))
        }
        services.append(SessionActivityReporter(activity: activity, identity: signIn))
        if let relyingParty { services.append(FederationRevalidator(relyingParty: relyingParty, service: parts.service, logger: logger)) }
        services.append(
            GatewayReloader(
                configuration: configuration, policies: configuration.policies.source == .files ? policies : nil,
                routes: routes, credentials: credentials,
                clientTrust: clientTrust, logger: logger))
        return Parts(services: services)
    }
}
