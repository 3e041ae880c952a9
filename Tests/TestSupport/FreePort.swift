import Foundation
import Synchronization

/// A loopback TCP port that nothing listens on, for a listener a test must name before it starts.
///
/// Ports come from below the kernel's ephemeral range, so no `bind` to port 0 and no outgoing
/// connection anywhere on the machine can be handed the same port between `reserve()` and the
/// moment the test's process binds it; within this test process they are handed out in turn, so
/// two tests never get the same one.
public enum FreePort {
    private static let next = Atomic<Int>(Int.random(in: 0..<10_000))

    public static func reserve() throws -> Int {
        let range = 20_000..<ephemeralRangeStart
        for _ in 0..<200 {
            let port = range.lowerBound + next.add(1, ordering: .relaxed).oldValue % range.count
            if canBind(port) { return port }
        }
        throw PortcullisProcess.Failure(description: "no free loopback port in \(range)")
    }

    /// The first port the kernel hands out for `bind` to port 0 (`ip_local_port_range`).
    private static var ephemeralRangeStart: Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }.map { max($0, 21_000) } ?? 32_768
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
