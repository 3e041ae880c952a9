/// The extension functions `ip`, `decimal`, `datetime`, `duration` and their methods
/// (Cedar `extensions/*.rs`, cedar-lean `Spec/Ext/*.lean`).
/// Evaluated call arguments without an array allocation: no function takes more than two.
struct Arguments {
    let count: Int
    let first: Value?
    let second: Value?

    init(count: Int, first: Value?, second: Value?) {
        self.count = count
        self.first = first
        self.second = second
    }

    init(_ values: [Value]) {
        self.init(count: values.count, first: values.first, second: values.count > 1 ? values[1] : nil)
    }

    subscript(_ k: Int) -> Value { k == 0 ? first! : second! }
}

enum Extensions {
    static func apply(_ f: Function, _ args: Arguments) throws(EvaluationError) -> Value {
        guard args.count == f.arity else {
            throw .wrongArity(function: f.rawValue, expected: f.arity, got: args.count)
        }
        switch f {
        case .ip:
            return .ipaddr(try IPAddress.parse(string(args[0])).get())
        case .decimal:
            return .decimal(try CedarDecimal.parse(string(args[0])).get())
        case .datetime:
            return .datetime(try CedarDatetime.parse(string(args[0])).get())
        case .duration:
            return .duration(try CedarDuration.parse(string(args[0])).get())
        case .isIpv4: return .bool(try ip(args[0]).isV4)
        case .isIpv6: return .bool(!(try ip(args[0]).isV4))
        case .isLoopback: return .bool(try ip(args[0]).isLoopback)
        case .isMulticast: return .bool(try ip(args[0]).isMulticast)
        case .isInRange: return .bool(try ip(args[0]).isInRange(try ip(args[1])))
        case .lessThan: return .bool(try decimal(args[0]) < decimal(args[1]))
        case .lessThanOrEqual: return .bool(try decimal(args[0]) <= decimal(args[1]))
        case .greaterThan: return .bool(try decimal(args[0]) > decimal(args[1]))
        case .greaterThanOrEqual: return .bool(try decimal(args[0]) >= decimal(args[1]))
        case .offset:
            let d = try datetime(args[0])
            let o = try duration(args[1])
            let (r, overflow) = d.addingReportingOverflow(o)
            if overflow {
                throw .extensionError(function: "offset", message: "overflows when adding an offset: \(d)ms + \(o)ms")
            }
            return .datetime(CedarDatetime(epochMilliseconds: r))
        case .durationSince:
            let a = try datetime(args[0])
            let b = try datetime(args[1])
            let (r, overflow) = a.subtractingReportingOverflow(b)
            if overflow {
                throw .extensionError(function: "durationSince", message: "overflows when computing the duration between \(a)ms and \(b)ms")
            }
            return .duration(CedarDuration(milliseconds: r))
        case .toDate:
            let ms = try datetime(args[0])
            let day = CedarDatetime.msPerDay
            // Floor to the UTC day; Euclidean so negative epochs round down.
            let floored = ms >= 0 || ms % day == 0 ? ms / day : ms / day - 1
            let (r, overflow) = floored.multipliedReportingOverflow(by: day)
            if overflow { throw .extensionError(function: "toDate", message: "overflow when computing the date of \(ms)ms") }
            return .datetime(CedarDatetime(epochMilliseconds: r))
        case .toTime:
            let ms = try datetime(args[0])
            let rem = ms % CedarDatetime.msPerDay
            return .duration(CedarDuration(milliseconds: rem < 0 ? rem + CedarDatetime.msPerDay : rem))
        case .toMilliseconds: return .long(try duration(args[0]))
        case .toSeconds: return .long(try duration(args[0]) / 1000)
        case .toMinutes: return .long(try duration(args[0]) / 60_000)
        case .toHours: return .long(try duration(args[0]) / 3_600_000)
        case .toDays: return .long(try duration(args[0]) / 86_400_000)
        case .contains, .containsAll, .containsAny, .isEmpty, .getTag, .hasTag:
            throw .extensionError(function: f.rawValue, message: "`\(f.rawValue)` is a built-in method, not an extension function")
        }
    }

    private static func string(_ v: Value) throws(EvaluationError) -> String {
        guard case .string(let s) = v else { throw .typeError(expected: [.string], got: v.typeName) }
        return s.string
    }

    private static func ip(_ v: Value) throws(EvaluationError) -> IPAddress {
        guard case .ipaddr(let x) = v else { throw .typeError(expected: [.ipaddr], got: v.typeName) }
        return x
    }

    private static func decimal(_ v: Value) throws(EvaluationError) -> CedarDecimal {
        guard case .decimal(let x) = v else { throw .typeError(expected: [.decimal], got: v.typeName) }
        return x
    }

    private static func datetime(_ v: Value) throws(EvaluationError) -> Int64 {
        guard case .datetime(let x) = v else { throw .typeError(expected: [.datetime], got: v.typeName) }
        return x.epochMilliseconds
    }

    private static func duration(_ v: Value) throws(EvaluationError) -> Int64 {
        guard case .duration(let x) = v else { throw .typeError(expected: [.duration], got: v.typeName) }
        return x.milliseconds
    }
}
