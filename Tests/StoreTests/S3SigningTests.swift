import Foundation
@testable import Store
import Synchronization
import Testing

/// libcurl signs S3 requests (CURLOPT_AWS_SIGV4). moto checks no signature, so the
/// signing is checked here against AWS's published SigV4 test suite
/// (`aws-sig-v4-test-suite`: credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1,
/// service "service"): requests go to `example.amazonaws.com`, which `CURLOPT_CONNECT_TO`
/// sends to a local socket that records the Authorization header. libcurl 7.88 takes the
/// signing time from an `X-Amz-Date` header the caller sets, which pins the date.
@Suite("S3 SigV4 signing")
struct S3SigningTests {
    static let credentials = S3Credentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let scope = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="

    /// The Authorization header libcurl sends for a GET of `target` on example.amazonaws.com.
    func authorization(target: String, credentials: S3Credentials = credentials) throws -> String {
        let seen = Mutex<String?>(nil)
        let server = try FakeHTTPServer { request in
            seen.withLock { $0 = request.header("authorization") }
            return .respond(status: 200)
        }
        defer { server.stop() }
        let transport = S3Transport(
            region: "us-east-1", credentials: credentials, connectTimeout: .seconds(5), stallTimeout: .seconds(5),
            connectTo: ["example.amazonaws.com:80:127.0.0.1:\(server.port)"], service: "service", addsS3Headers: false)
        let response = try transport.perform(S3HTTPRequest(
            method: "GET", url: "http://example.amazonaws.com\(target)", headers: [("X-Amz-Date", "20150830T123600Z")]))
        #expect(response.status == 200)
        return try #require(seen.withLock { $0 })
    }

    @Test("get-vanilla: the published signature")
    func getVanilla() throws {
        #expect(try authorization(target: "/") == Self.scope + "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test("get-vanilla-query-order-key-case: S3URI.query sorts, libcurl signs the sorted query")
    func queryOrder() throws {
        let query = S3URI.query([("Param2", "value2"), ("Param1", "value1")])
        #expect(query == "Param1=value1&Param2=value2")
        #expect(try authorization(target: "/?" + query)
            == Self.scope + "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test("a different secret gives a different signature (the vector check can fail)")
    func secretMatters() throws {
        let other = S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "another secret")
        #expect(try authorization(target: "/", credentials: other).hasPrefix(Self.scope))
        #expect(try authorization(target: "/", credentials: other) != (try authorization(target: "/")))
    }

    @Test("URI encoding is SigV4's: unreserved bytes kept, everything else %XX, / kept in paths")
    func uriEncoding() {
        #expect(S3URI.encode("ns/a b+c=d&é~._-", keepSlash: true) == "ns/a%20b%2Bc%3Dd%26%C3%A9~._-")
        #expect(S3URI.encode("a/b", keepSlash: false) == "a%2Fb")
    }

    @Test("x-amz-content-sha256 is the hex SHA-256 of the body")
    func payloadHash() {
        #expect(S3Transport.sha256Hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(S3Transport.sha256Hex(Data("hello".utf8)) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    }
}
