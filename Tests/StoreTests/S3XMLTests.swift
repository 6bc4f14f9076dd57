@testable import Store
import Testing

@Suite("S3 XML")
struct S3XMLTests {
    @Test("ListObjectsV2: keys decoded, etags unquoted, truncation read")
    func listResult() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>\
            <StartAfter/><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>\
            <Contents><Key>p/a&amp;b&lt;c&gt;&quot;&apos;</Key><LastModified>2025-01-01T00:00:00.000Z</LastModified>\
            <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>\
            <Contents><Key>p/caf&#233;&#x2F;x</Key><ETag>"abc"</ETag><Size>0</Size></Contents></ListBucketResult>
            """
        let result = try S3ListResult.parse(xml)
        #expect(result.isTruncated)
        #expect(result.entries == [
            .init(key: "p/a&b<c>\"'", size: 5, etag: "9b2cf535f27731c974343645a3985328"),
            .init(key: "p/café/x", size: 0, etag: "abc"),
        ])
    }

    @Test("an empty, complete listing")
    func emptyListing() throws {
        let result = try S3ListResult.parse("<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>")
        #expect(result == S3ListResult(entries: [], isTruncated: false))
    }

    @Test("malformed listings are refused, not misread")
    func malformed() {
        #expect(throws: S3ParseError.self) { try S3ListResult.parse("<Error><Code>x</Code></Error>") }
        #expect(throws: S3ParseError.self) {
            try S3ListResult.parse("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>")
        }
        #expect(throws: S3ParseError.self) {
            try S3ListResult.parse("<ListBucketResult><Contents><Key>k</Key><Size>x</Size></Contents></ListBucketResult>")
        }
    }

    @Test("entities: unknown or broken references are kept as written")
    func entities() {
        #expect(S3XML.decodeEntities("a &amp;&amp; b &bogus; &#65;&#x42; & c") == "a && b &bogus; AB & c")
    }

    @Test("error bodies give their code and message")
    func errorBody() {
        let body = S3ErrorBody(Array("<Error><Code>SlowDown</Code><Message>Please &amp; slow</Message></Error>".utf8))
        #expect(body.code == "SlowDown")
        #expect(body.message == "Please & slow")
    }
}
