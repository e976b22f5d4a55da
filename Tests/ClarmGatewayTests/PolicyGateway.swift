import Foundation
import Glibc
import ClarmGateway
import ClarmServer
import ClarmStorage
import ClarmTestSupport

/// Runs a gateway with the given traffic policy and API keys on a store in `directory` (a fresh one when nil); like
/// `withGateway`, it takes events of any age, since the tests post events of November 2026.
func withPolicyGateway(directory: String? = nil, traffic: TrafficPolicy = TrafficPolicy(), apiKeys: [String] = [],
                       options: StoreOptions = StoreOptions(),
                       configure: (inout ServerConfiguration) -> Void = { _ in },
                       _ body: (_ port: Int, _ store: Store) throws -> Void) throws {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.eventLoops = 2
    configuration.shutdownGrace = 2_000
    configure(&configuration)
    let temporary = directory == nil ? TemporaryDirectory() : nil
    defer { temporary?.remove() }
    var options = options
    options.shards = 2
    let store = try Store(directory: directory ?? temporary!.path, options: options)
    let server = try HTTPServer(configuration: configuration) {
        Gateway(store: store, access: GatewayAccess(apiKeys: apiKeys), traffic: traffic).withMaxEventAge(days: historyMaxEventAgeDays)
    }
    defer {
        server.shutdown()
        server.waitUntilStopped()
        store.close()
    }
    try body(server.port, store)
}

/// Sends one request and reads its response.
func exchange(_ client: TestClient, _ method: String, _ target: String, body: String? = nil,
              headers: [String] = []) throws -> TestResponse {
    var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for header in headers { text += header + "\r\n" }
    if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
    text += "\r\n" + (body ?? "")
    try client.send(text)
    guard let response = try client.readResponse() else { throw TestFailure("no response to \(method) \(target)") }
    return response
}

extension TestResponse {
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
}

/// An IPv4 address of this machine that is not loopback, to connect from a peer that is not trusted; nil when there is none.
func nonLoopbackAddress() -> UInt32? {
    var list: UnsafeMutablePointer<ifaddrs>? = nil
    guard getifaddrs(&list) == 0 else { return nil }
    defer { freeifaddrs(list) }
    var entry = list
    while let current = entry {
        if let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) {
            let value = UInt32(bigEndian: UnsafeRawPointer(address).load(as: sockaddr_in.self).sin_addr.s_addr)
            if value >> 24 != 127 { return value }
        }
        entry = current.pointee.ifa_next
    }
    return nil
}
