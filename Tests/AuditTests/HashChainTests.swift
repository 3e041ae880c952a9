import Foundation
import NIOCore
import Testing

@testable import Audit

@Suite struct HashChainTests {
    func event(_ n: Int) -> AuditEvent {
        AuditEvent(
            time: Date(timeIntervalSince1970: 1_790_000_000 + Double(n)), kind: .access, principal: #"User::"alice""#,
            action: "GET", route: "shipments", target: "/v1/shipments/\(n)", outcome: "allow", policies: ["policy0"])
    }

    @Test func eachLinkCoversThePreviousHash() {
        var chain = HashChain()
        let first = chain.append(event(1))
        let second = chain.append(event(2))
        #expect(first.sequence == 1 && second.sequence == 2)
        #expect(first.previousHash == HashChain.genesis)
        #expect(second.previousHash == first.hash)
        #expect(HashChain.hash(second.event, writerID: chain.writerID, sequence: 2, previousHash: first.hash) == second.hash)
    }

    @Test func everyFieldIsCovered() {
        let base = event(1)
        let writer = UUID()
        let reference = HashChain.hash(base, writerID: writer, sequence: 1, previousHash: HashChain.genesis)
        var variants: [AuditEvent] = []
        var e = base
        e.timeMicros += 1
        variants.append(e)
        e = base
        e.principal = nil
        variants.append(e)
        e = base
        e.principal = ""
        variants.append(e)
        e = base
        e.outcome = "deny"
        variants.append(e)
        e = base
        e.policies = ["policy0", ""]
        variants.append(e)
        e = base
        e.policies = []
        variants.append(e)
        e = base
        e.upstreamStatus = 200
        variants.append(e)
        e = base
        e.details = "{}"
        variants.append(e)
        e = base
        e.kind = .admin
        variants.append(e)
        for variant in variants {
            #expect(HashChain.hash(variant, writerID: writer, sequence: 1, previousHash: HashChain.genesis) != reference)
        }
        #expect(HashChain.hash(base, writerID: writer, sequence: 2, previousHash: HashChain.genesis) != reference)
        #expect(HashChain.hash(base, writerID: UUID(), sequence: 1, previousHash: HashChain.genesis) != reference)
    }

    @Test func fieldBoundariesAreUnambiguous() {
        var a = event(1)
        var b = event(1)
        a.route = "ab"
        a.target = "c"
        b.route = "a"
        b.target = "bc"
        let writer = UUID()
        #expect(
            HashChain.hash(a, writerID: writer, sequence: 1, previousHash: HashChain.genesis)
                != HashChain.hash(b, writerID: writer, sequence: 1, previousHash: HashChain.genesis))
    }
}

@Suite struct CopyTextTests {
    @Test func escapesFieldAndRowSeparators() {
        var row = CopyTextWriter()
        row.text("a\tb\nc\\d\re")
        row.text(nil)
        row.integer(42)
        row.textArray(["x", "y\"z", "back\\slash", "comma,", "tab\there"])
        row.bytes([0x00, 0xab, 0x10])
        row.text("ünïcode, plain")
        row.endRow()
        row.text("second")
        row.endRow()
        #expect(
            String(buffer: row.buffer) == #"a\tb\nc\\d\re"# + "\t" + #"\N"# + "\t42\t" + #"{"x","y\\"z","back\\\\slash","comma,","tab\there"}"#
                + "\t" + #"\\x00ab10"# + "\tünïcode, plain\nsecond\n")
    }
}
