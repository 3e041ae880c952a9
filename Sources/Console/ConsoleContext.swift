import Foundation
import Gateway
import Hummingbird
import Logging

/// What a console page knows about its request besides the request itself: the console, the
/// caller as the gateway authenticated and authorized them, and the CSRF token of the browser.
public struct ConsoleContext: RequestContext {
    public struct Source: RequestContextSource {
        let console: AdminConsole
        let caller: EmbeddedCaller
        let csrf: String
        let csrfIsNew: Bool
        public let logger: Logger
    }

    public var coreContext: CoreRequestContextStorage
    let console: AdminConsole
    let caller: EmbeddedCaller
    /// The token forms must carry (the browser's cookie, or a new one set with this response).
    let csrf: String
    let csrfIsNew: Bool
    /// A POST's form fields or JSON body, read (and checked for the CSRF token) before the page runs.
    var form: [String: String] = [:]
    var json = Data()

    public init(source: Source) {
        coreContext = .init(source: source)
        console = source.console
        caller = source.caller
        csrf = source.csrf
        csrfIsNew = source.csrfIsNew
    }

    public var maxUploadSize: Int { AdminConsole.maxBodyBytes }

    /// A form field, trimmed; nil when absent or blank.
    func field(_ name: String) -> String? {
        form[name].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    func requiredField(_ name: String) throws(ConsoleError) -> String {
        guard let value = field(name) else { throw .invalid("\(name.replacingOccurrences(of: "_", with: " ")) is required") }
        return value
    }

    /// A query parameter, trimmed; nil when absent or blank.
    static func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map { String($0).trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A path parameter, which the router guarantees is present for the pattern it matched.
    func parameter(_ name: String) throws(ConsoleError) -> String {
        guard let value = parameters.get(name), !value.isEmpty else { throw .invalid("\(name) is missing") }
        return value.removingPercentEncoding ?? value
    }
}
