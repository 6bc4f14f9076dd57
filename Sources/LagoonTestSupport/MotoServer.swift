import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `moto_server` (pip `moto[server]`, an in-memory S3) on a free loopback port, started
/// once per test process on first use and stopped when the process exits; a watchdog
/// thread in the server also exits it when the test process dies without cleaning up.
public final class MotoServer: Sendable {
    /// `http://127.0.0.1:<port>`.
    public let endpoint: String
    let pid: Int32

    /// The process-wide server, or why it could not start.
    public static let shared: Result<MotoServer, MotoUnavailable> = {
        do throws(MotoUnavailable) { return .success(try MotoServer()) } catch { return .failure(error) }
    }()

    /// True when `LAGOON_REQUIRE_MOTO=1`: S3 tests then fail instead of being left out
    /// when moto is missing (CI sets it; scripts/install-deps.sh --test installs moto).
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["LAGOON_REQUIRE_MOTO"] == "1" }

    /// The launcher: binds port 0, prints it, serves S3 until the parent process is gone.
    static let script = """
        import os, sys, threading, time
        try:
            from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
            from werkzeug.serving import make_server
            parent = os.getppid()
            app = DomainDispatcherApplication(create_backend_app)
            # moto checks a conditional PUT and then stores it in two steps; S3 does both
            # atomically. One request at a time gives the contract tests S3's atomicity (a
            # threaded moto loses updates under concurrent If-Match writes).
            lock = threading.Lock()
            def serialized(environ, start_response):
                with lock:
                    return list(app(environ, start_response))
            server = make_server("127.0.0.1", 0, serialized, threaded=True)
        except Exception as error:
            print("ERROR", repr(error), flush=True)
            sys.exit(1)
        print("PORT", server.server_port, flush=True)
        def watchdog():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)
        threading.Thread(target=watchdog, daemon=True).start()
        server.serve_forever()
        """

    private init() throws(MotoUnavailable) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw MotoUnavailable(reason: "cannot run python3: \(error)") }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let words = String(decoding: line, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard words.count == 2, words[0] == "PORT", let port = Int(words[1]) else {
            process.terminate()
            throw MotoUnavailable(reason: "moto_server did not start (pip install 'moto[server]'): \(String(decoding: line, as: UTF8.self))")
        }
        endpoint = "http://127.0.0.1:\(port)"
        pid = process.processIdentifier
        runningPID.store(pid, ordering: .relaxed)
        atexit { kill(runningPID.load(ordering: .relaxed), SIGTERM) }
    }
}

/// Why moto could not be started.
public struct MotoUnavailable: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

private let runningPID = Atomic<Int32>(0)
