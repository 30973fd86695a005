import Foundation

/// The addresses and names this host answers to, to tell which Patroni members run here.
public struct LocalAddresses: Sendable {
    public var addresses: Set<String>

    public func contains(_ host: String) -> Bool {
        addresses.contains(host) || host.hasPrefix("127.")
    }

    public static func current() -> LocalAddresses {
        var found: Set<String> = ["localhost", "::1"]
        var name = [CChar](repeating: 0, count: 256)
        if gethostname(&name, name.count) == 0 {
            let host = Self.text(name)
            found.insert(host)
            found.insert(String(host.prefix { $0 != "." }))
        }
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return LocalAddresses(addresses: found) }
        defer { freeifaddrs(list) }
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr else { continue }
            let family = Int32(address.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            if getnameinfo(address, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                found.insert(Self.text(text).split(separator: "%").first.map(String.init) ?? "")
            }
        }
        return LocalAddresses(addresses: found)
    }

    /// A NUL-terminated C string in a buffer.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
