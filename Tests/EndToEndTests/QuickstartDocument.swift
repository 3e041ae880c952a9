import Foundation

/// docs/quickstart.md read as a script: the shell blocks of one step, each with the output the
/// doc shows after it, run with this test's binary, state directory and port in place of the
/// doc's, so the doc's commands and outputs are the ones a run produces.
struct QuickstartDocument {
    struct Block {
        var commands: String
        var shownOutput: String?
    }

    let text: String

    init(root: URL) throws {
        text = try String(contentsOf: root.appendingPathComponent("docs/quickstart.md"), encoding: .utf8)
    }

    /// The `sh` blocks of the section whose heading starts with `heading`, in order.
    func blocks(inSection heading: String) -> [Block] {
        guard let start = text.range(of: "\n" + heading) else { return [] }
        let rest = text[start.upperBound...]
        let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        var blocks: [Block] = []
        var lines = section.split(separator: "\n", omittingEmptySubsequences: false)[...]
        while let line = lines.popFirst() {
            guard line.hasPrefix("```") else { continue }
            let language = line.dropFirst(3)
            var body: [Substring] = []
            while let next = lines.popFirst(), next != "```" { body.append(next) }
            let content = body.joined(separator: "\n")
            if language == "sh" {
                blocks.append(Block(commands: content))
            } else if language == "text", !blocks.isEmpty, blocks[blocks.count - 1].shownOutput == nil {
                blocks[blocks.count - 1].shownOutput = content
            }
        }
        return blocks
    }

    /// Numbers, hashes and request ids differ from run to run; everything else must match.
    static func normalized(_ output: String) -> String {
        output.replacing(/[0-9a-f]{12,}/, with: "<hash>").replacing(/[0-9]+/, with: "<n>")
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
