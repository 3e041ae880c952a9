import Foundation

/// Loopback TCP ports for the local deployment: whether one can be bound now, and a free one for
/// a server that must find its port again after a restart.
enum LocalPorts {
    /// Below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), so no outgoing
    /// connection is ever given it as its local port: a cluster stopped and started again finds
    /// its port free and keeps its URL. A kernel-picked port could be taken in between by any
    /// client's connection, and every client of the cluster would then be left on the old URL.
    static let serverPorts = 20_000..<32_768

    /// A free port of ``serverPorts``; a kernel-picked one if all tries were taken.
    static func free() -> Int {
        for _ in 0..<64 {
            let port = Int.random(in: serverPorts)
            if isFree(port) { return port }
        }
        return kernelPicked()
    }

    private static func kernelPicked() -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 ? getsockname(socket, pointer, &length) : -1
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func isFree(_ port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var reuse: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
