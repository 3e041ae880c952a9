extension Response {
    /// The CLI's one-line JSON form:
    /// `{"decision":"Allow","reasons":["policy0"],"errors":[{"policy":"policy1","message":"…"}]}`.
    public var jsonLine: String {
        var out = "{\"decision\":\"\(decision.rawValue)\",\"reasons\":["
        out += reasons.map(jsonQuoted).joined(separator: ",")
        out += "],\"errors\":["
        out += errors.map { "{\"policy\":\(jsonQuoted($0.policyID)),\"message\":\(jsonQuoted($0.error.description))}" }
            .joined(separator: ",")
        return out + "]}"
    }
}

extension Authorizer {
    /// Decides one request given as JSON text and renders the CLI output line; an invalid
    /// request yields `{"error":"…"}` so a batch can carry on.
    public func decideJSONLine(_ requestJSON: String, entities: Entities) -> String {
        do throws(InputError) {
            let request = try Request.fromJSON(requestJSON)
            return isAuthorized(request, entities: entities).jsonLine
        } catch {
            return "{\"error\":\(jsonQuoted(error.description))}"
        }
    }
}
