import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on a free loopback port, for tests that need to see or shape
/// the bytes on the wire (signatures, retries, lost responses). One thread per
/// connection, keep-alive, `Content-Length` bodies only.
final class FakeHTTPServer: Sendable {
    struct Request: Sendable {
        var method: String
        /// The request target as sent (`/bucket/key?query`).
        var target: String
        /// Header names lower-cased, in arrival order.
        var headers: [(name: String, value: String)]
        var body: Data

        func header(_ name: String) -> String? {
            headers.first { $0.name == name.lowercased() }?.value
        }
        var path: String { String(target.prefix { $0 != "?" }) }
        var query: [String: String] {
            guard let mark = target.firstIndex(of: "?") else { return [:] }
            var result: [String: String] = [:]
            for pair in target[target.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                result[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            return result
        }
    }

    enum Reply: Sendable {
        case respond(status: Int, headers: [(String, String)] = [], body: Data = Data())
        /// Close the connection without answering (a lost response).
        case dropConnection
    }

    let port: Int
    private let listener: Int32
    private let handler: @Sendable (Request) -> Reply
    private let accepted = Atomic<Int>(0)

    /// Connections accepted so far (to check connection reuse).
    var connectionCount: Int { accepted.load(ordering: .relaxed) }

    init(handler: @escaping @Sendable (Request) -> Reply) throws {
        self.handler = handler
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 64) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Stops accepting connections (open ones end when their client closes them).
    func stop() {
        // Only shut down: the accept thread closes the descriptor when accept fails. Closing
        // it here could let a new socket reuse the number before that thread's next accept,
        // which would then serve another server's connections.
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                close(listener)
                return
            }
            accepted.add(1, ordering: .relaxed)
            // A thread of its own: a connection blocks in read(2) while its client keeps it
            // alive, and idle keep-alive connections parked on Dispatch's shared pool starved
            // it when the whole suite ran at once (requests stalled, clients reconnected).
            let thread = Thread { self.serve(connection) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var buffer = Data()
        while let request = readRequest(connection, &buffer) {
            switch handler(request) {
            case .dropConnection:
                return
            case .respond(let status, let headers, let body):
                var head = "HTTP/1.1 \(status) Status\r\n"
                var hasLength = false
                for (name, value) in headers {
                    head += "\(name): \(value)\r\n"
                    if name.lowercased() == "content-length" { hasLength = true }
                }
                if !hasLength { head += "Content-Length: \(body.count)\r\n" }
                head += "\r\n"
                var bytes = Data(head.utf8)
                if request.method != "HEAD" { bytes.append(body) }
                guard writeAll(connection, bytes) else { return }
            }
        }
    }

    private func readRequest(_ connection: Int32, _ buffer: inout Data) -> Request? {
        let separator = Data("\r\n\r\n".utf8)
        while buffer.range(of: separator) == nil {
            guard readMore(connection, &buffer) else { return nil }
        }
        let headEnd = buffer.range(of: separator)!
        let head = String(decoding: buffer[buffer.startIndex..<headEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = headers.first { $0.name == "content-length" }.flatMap { Int($0.value) } ?? 0
        if headers.contains(where: { $0.name == "expect" && $0.value.lowercased() == "100-continue" }) {
            guard writeAll(connection, Data("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
        }
        while buffer.count - (headEnd.upperBound - buffer.startIndex) < length {
            guard readMore(connection, &buffer) else { return nil }
        }
        let body = Data(buffer[headEnd.upperBound..<(headEnd.upperBound + length)])
        buffer = Data(buffer[(headEnd.upperBound + length)...])
        return Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
    }

    private func readMore(_ connection: Int32, _ buffer: inout Data) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = read(connection, &chunk, chunk.count)
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    private func writeAll(_ connection: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = send(connection, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                guard written > 0 else { return false }
                offset += written
            }
            return true
        }
    }
}
