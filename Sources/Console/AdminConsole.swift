import Audit
import Federation
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import Identity
import Logging
import Mustache
import PolicyStore

/// The admin console (`/.portcullis/admin/`): server-rendered pages to edit, test and ship
/// policies, manage identities and read the audit trail.
///
/// The gateway serves it after authenticating the caller and deciding
/// `Route::"portcullis-console"` with Cedar, so every request that reaches a page was allowed by
/// policy and is in the audit trail. The console adds what a browser application needs on top:
/// a CSRF token on every POST, a strict Content-Security-Policy, and escaping of every value
/// (Mustache `{{ }}`). Every change goes through `AdminOperations` or `PolicyVersions` and is
/// recorded with the acting administrator.
public struct AdminConsole: EmbeddedApplication {
    /// The Cedar resource policies name to allow the console: `Route::"portcullis-console"`.
    public static let routeID = "portcullis-console"
    public static let labels = ["kind": "console"]
    /// Policy bundles are the largest bodies the console takes.
    public static let maxBodyBytes = 4 << 20
    public static let prefix = EmbeddedMount.consolePrefix

    let identity: IdentityService
    let policyVersions: PolicyVersions
    let audit: AuditStore
    /// Previews (check, explain, diff); nil when this process cannot compute them.
    let workbench: (any PolicyWorkbench)?
    /// The configured identity providers, for the providers page.
    let providers: [ProviderSettings]
    /// Audit verification as `audit verify` runs it, held to `anchorFiles` (this node's anchor file).
    let verification: AuditVerificationRun
    let anchorFiles: [String]
    let templates: MustacheLibrary
    let assets: [String: (contentType: String, body: String)]
    let logger: Logger
    private let responder: RouterResponder<ConsoleContext>

    /// Loads the templates and assets (once, from the module's resources) and builds the router.
    public static func load(
        identity: IdentityService, policyVersions: PolicyVersions, audit: AuditStore,
        workbench: (any PolicyWorkbench)?, providers: [ProviderSettings] = [], verification: AuditVerificationRun, anchorFiles: [String],
        logger: Logger
    ) async throws -> AdminConsole {
        guard let resources = Bundle.module.resourceURL else { throw ConsoleError.resourcesMissing("the module bundle has no resources") }
        let templates = try await MustacheLibrary(directory: resources.appendingPathComponent("Templates").path)
        var assets: [String: (String, String)] = [:]
        for (name, type) in [("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8")] {
            let url = resources.appendingPathComponent("Assets").appendingPathComponent(name)
            do { assets[name] = (type, try String(contentsOf: url, encoding: .utf8)) } catch {
                throw ConsoleError.resourcesMissing("cannot read \(url.path): \(error)")
            }
        }
        return AdminConsole(
            identity: identity, policyVersions: policyVersions, audit: audit, workbench: workbench, providers: providers,
            verification: verification, anchorFiles: anchorFiles, templates: templates, assets: assets, logger: logger)
    }

    private init(
        identity: IdentityService, policyVersions: PolicyVersions, audit: AuditStore, workbench: (any PolicyWorkbench)?,
        providers: [ProviderSettings], verification: AuditVerificationRun, anchorFiles: [String], templates: MustacheLibrary,
        assets: [String: (contentType: String, body: String)], logger: Logger
    ) {
        self.identity = identity
        self.policyVersions = policyVersions
        self.audit = audit
        self.workbench = workbench
        self.providers = providers
        self.verification = verification
        self.anchorFiles = anchorFiles
        self.templates = templates
        self.assets = assets
        self.logger = logger
        let router = Router(context: ConsoleContext.self)
        for page in Self.pages {
            router.on(RouterPath(Self.prefix + page.path), method: page.method) { request, context in
                await AdminConsole.answer(page, request, context)
            }
        }
        responder = router.buildResponder()
    }

    public func respond(to request: Request, caller: EmbeddedCaller) async -> Response {
        // Route on the canonical path the gateway authorized, not on the raw one.
        var head = request.head
        head.path = caller.path + (request.uri.query.map { "?" + $0 } ?? "")
        let canonical = Request(head: head, body: request.body)
        let csrf = ConsoleSecurity.csrfCookie(in: request.headers)
        let context = ConsoleContext(
            source: .init(
                console: self, caller: caller, csrf: csrf ?? ConsoleSecurity.newToken(),
                csrfIsNew: csrf == nil, logger: logger))
        var response: Response
        if caller.path == String(Self.prefix.dropLast()) {
            response = Response(status: .seeOther, headers: [.location: Self.prefix])
        } else {
            do { response = try await responder.respond(to: canonical, context: context) } catch {
                response = render(.notFound, "message", ["title": "Not found", "message": "There is no console page at this address."], context)
            }
        }
        ConsoleSecurity.harden(&response, context: context)
        return response
    }

    /// Runs a page's handler; a failure becomes a page saying what was wrong, never a stack of internals.
    private static func answer(_ page: ConsolePage, _ request: Request, _ context: ConsoleContext) async -> Response {
        let console = context.console
        var context = context
        if page.method == .post {
            if let refusal = await ConsoleSecurity.refuseForgery(request, context: &context) { return refusal }
        }
        do {
            return try await page.handler(console, request, context)
        } catch let error as ConsoleError {
            return console.render(error.status, "message", ["title": error.title, "message": error.description], context)
        } catch {
            let failure = ConsoleError.from(error)
            return console.render(failure.status, "message", ["title": failure.title, "message": failure.description], context)
        }
    }

    // MARK: Rendering

    /// Renders `template` inside the layout with the caller, the navigation and the CSRF token.
    func render(_ status: HTTPResponse.Status, _ template: String, _ values: [String: Any], _ context: ConsoleContext) -> Response {
        var object = values
        object["csrf"] = context.csrf
        object["prefix"] = Self.prefix
        object["actor"] = context.caller.principal.uid.description
        object["section_" + (values["section"] as? String ?? "none")] = true
        let html = templates.render(Self.withoutNils(object) ?? [:], withTemplate: template) ?? "template \(template) missing"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The values with every absent optional removed, at any depth: Mustache would otherwise
    /// take a nil wrapped in `Any` for a present value and render "nil".
    static func withoutNils(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional { return mirror.children.first.flatMap { withoutNils($0.value) } }
        if let dictionary = value as? [String: Any] { return dictionary.compactMapValues(withoutNils) }
        if let array = value as? [Any] { return array.compactMap(withoutNils) }
        return value
    }

    /// After a change: back to the page that shows it (POST, redirect, GET).
    static func redirect(_ path: String) -> Response {
        Response(status: .seeOther, headers: [.location: prefix + path])
    }

    static func json(_ status: HTTPResponse.Status, _ body: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func asset(_ name: String) -> Response {
        guard let asset = assets[name] else { return Response(status: .notFound) }
        return Response(status: .ok, headers: [.contentType: asset.contentType], body: .init(byteBuffer: ByteBuffer(string: asset.body)))
    }

    /// The acting administrator, for change records: the console's route and the policies that allowed the request.
    func actor(_ context: ConsoleContext) -> AdminActor {
        let caller = context.caller
        return AdminActor(
            principal: caller.principal.uid.description, authMethod: caller.principal.method?.rawValue ?? "none",
            route: Self.routeID, policies: caller.policies, policyVersion: caller.policyVersion)
    }

    func operations(_ context: ConsoleContext) -> AdminOperations { AdminOperations(service: identity, actor: actor(context)) }
}

/// One console URL: the route table the router is built from, and that tests enumerate.
public struct ConsolePage: Sendable {
    public let method: HTTPRequest.Method
    /// Relative to the prefix; `:name` is a parameter.
    public let path: String
    let handler: @Sendable (AdminConsole, Request, ConsoleContext) async throws -> Response

    init(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (AdminConsole, Request, ConsoleContext) async throws -> Response
    ) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}

extension AdminConsole {
    /// Every page of the console. Only GET pages read; every change is a POST.
    public static let pages: [ConsolePage] =
        [
            ConsolePage(.get, "") { console, _, _ in AdminConsole.redirect("policies") },
            ConsolePage(.get, "assets/:name") { console, _, context in console.asset(try context.parameter("name")) },
        ] + policyPages + auditPages + identityPages + federationPages + clientPages
}
