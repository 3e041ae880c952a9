import Foundation
import HTTPTypes

/// The cookies that belong to the gateway: the session cookie `__Host-portcullis` and its
/// companions `__Host-portcullis-…` (the sign-in and console CSRF cookies). Only the gateway sets
/// them: an upstream's `Set-Cookie` for one (session fixation, or a logged-in upstream page
/// planting its own session) is removed before the answer reaches the browser.
enum GatewayCookies {
    /// Lower case: names are compared without regard to case, as browsers match the `__Host-`
    /// prefix (`__HOST-Portcullis` must not slip through).
    private static let name = "__host-portcullis"

    /// Whether a cookie name is one of the gateway's.
    static func isGatewayCookie(_ cookieName: Substring) -> Bool {
        let folded = cookieName.lowercased()
        guard folded.hasPrefix(name) else { return false }
        return folded.count == name.count || folded.dropFirst(name.count).first == "-"
    }

    /// Removes every `Set-Cookie` field that sets one of the gateway's cookies; returns their
    /// names. Costs nothing when the answer sets no cookie.
    static func removeSetCookies(from fields: inout HTTPFields) -> [String] {
        guard fields[.setCookie] != nil else { return [] }
        var removed: [String] = []
        var kept = HTTPFields()
        kept.reserveCapacity(fields.count)
        for field in fields {
            if field.name == .setCookie {
                let cookieName = field.value.prefix { $0 != "=" && $0 != ";" }.trimmingCharacters(in: .whitespaces)
                if isGatewayCookie(Substring(cookieName)) {
                    removed.append(String(cookieName))
                    continue
                }
            }
            kept.append(field)
        }
        fields = kept
        return removed
    }
}
