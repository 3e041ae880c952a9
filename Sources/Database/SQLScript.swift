/// Splits a SQL file into statements, because PostgreSQL's extended query protocol
/// (the only one postgres-nio speaks) runs one statement per message.
///
/// Semicolons inside `'strings'`, `"identifiers"`, `-- comments`, `/* nested comments */`
/// and `$tag$ dollar quotes $tag$` do not end a statement.
enum SQLScript {
    static func statements(in sql: String) -> [String] {
        let scalars = Array(sql.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var index = 0

        func flush() {
            let text = String(current).trimmingWhitespace()
            if !text.isEmpty { statements.append(text) }
            current.removeAll()
        }
        func copy(through end: Int) {
            let stop = min(end, scalars.count)
            current.append(contentsOf: scalars[index..<stop])
            index = stop
        }
        func find(_ needle: [Unicode.Scalar], from start: Int) -> Int? {
            guard !needle.isEmpty, scalars.count >= needle.count else { return nil }
            var i = start
            while i + needle.count <= scalars.count {
                if scalars[i..<(i + needle.count)].elementsEqual(needle) { return i }
                i += 1
            }
            return nil
        }

        while index < scalars.count {
            let c = scalars[index]
            let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
            switch c {
            case ";":
                index += 1
                flush()
            case "'", "\"":
                // Quotes are escaped by doubling, so scanning to the next quote is enough.
                let close = scalars[(index + 1)...].firstIndex(of: c) ?? scalars.count
                copy(through: close + 1)
            case "-" where next == "-":
                let end = scalars[index...].firstIndex(of: "\n") ?? scalars.count
                index = end
            case "/" where next == "*":
                var depth = 0
                var i = index
                repeat {
                    if scalars[i] == "/" && i + 1 < scalars.count && scalars[i + 1] == "*" {
                        depth += 1
                        i += 2
                    } else if scalars[i] == "*" && i + 1 < scalars.count && scalars[i + 1] == "/" {
                        depth -= 1
                        i += 2
                    } else {
                        i += 1
                    }
                } while depth > 0 && i < scalars.count
                index = i
                current.append(" ")
            case "$":
                if let tagEnd = dollarTagEnd(scalars, from: index) {
                    let tag = Array(scalars[index...tagEnd])
                    let close = find(tag, from: tagEnd + 1) ?? scalars.count
                    copy(through: close + tag.count)
                } else {
                    copy(through: index + 1)
                }
            default:
                copy(through: index + 1)
            }
        }
        flush()
        return statements
    }

    /// The index of the closing `$` of a dollar-quote tag (`$$` or `$name$`) starting at `start`.
    private static func dollarTagEnd(_ scalars: [Unicode.Scalar], from start: Int) -> Int? {
        var i = start + 1
        while i < scalars.count {
            let c = scalars[i]
            if c == "$" { return i }
            let isTagCharacter = c == "_" || c.properties.isAlphabetic || (i > start + 1 && ("0"..."9").contains(c))
            guard isTagCharacter else { return nil }
            i += 1
        }
        return nil
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let view = unicodeScalars
        guard let first = view.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = view.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(view[first...last])
    }
}
