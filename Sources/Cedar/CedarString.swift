/// A Cedar string: a sequence of Unicode scalar values compared without normalization.
///
/// Swift's `String ==` and hashing use canonical equivalence (`"\u{e9}" == "e\u{301}"`),
/// whereas Cedar compares scalar by scalar. Comparing the UTF-8 encodings byte by byte
/// is exactly scalar-wise comparison, so equality and hashing here use the UTF-8 bytes.
public struct CedarString: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The underlying Swift string; use only for display and I/O, never for comparison.
    public let string: String

    public init(_ string: String) { self.string = string }
    public init(stringLiteral value: String) { self.string = value }

    public static func == (lhs: CedarString, rhs: CedarString) -> Bool {
        let a = lhs.string.utf8
        let b = rhs.string.utf8
        guard a.count == b.count else { return false }
        if let r = a.withContiguousStorageIfAvailable({ pa in
            b.withContiguousStorageIfAvailable { pb in
                pa.count == 0 || memcmpBytes(pa.baseAddress!, pb.baseAddress!, pa.count)
            }
        }), let result = r {
            return result
        }
        return a.elementsEqual(b)
    }

    /// Byte-wise (hence scalar-wise) ordering; used only to make output deterministic.
    public static func < (lhs: CedarString, rhs: CedarString) -> Bool {
        lhs.string.utf8.lexicographicallyPrecedes(rhs.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        let u = string.utf8
        if u.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
            for byte in u { hasher.combine(byte) }
        }
        hasher.combine(u.count)
    }

    public var description: String { string }

    /// The Unicode scalars, which is what `like` matches over.
    public var scalars: String.UnicodeScalarView { string.unicodeScalars }
}

@inline(__always)
private func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}
