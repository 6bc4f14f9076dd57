public import Foundation

/// A store that does not enforce the put conditions the commit protocol relies on.
/// `check` names the failed check; `description` says what the bucket did.
public struct ConditionalWritesUnsupported: Error, Sendable, CustomStringConvertible {
    public var check: String
    public var detail: String
    public var description: String {
        "the object store does not enforce conditional writes (check \"\(check)\" failed: \(detail)); "
            + "refusing writes: concurrent commits could silently overwrite each other"
    }
}

/// The start-up check of a writer node (ARCHITECTURE §9): some "S3-compatible" stores
/// answer 501 to `If-None-Match`, others accept the header and ignore it, which silently
/// loses concurrent writes. On a fresh scratch key:
/// 1. `create`: a create-only put of a new key succeeds;
/// 2. `create-only`: a second create-only put of that key is refused;
/// 3. `compare-and-swap`: a put with `If-Match` of a wrong etag is refused;
/// 4. `compare-and-swap current`: a put with `If-Match` of the current etag succeeds;
/// then the key is deleted. The bytes never change through refused puts.
public enum ConditionalWriteProbe {
    /// Runs the checks; throws `ConditionalWritesUnsupported` naming the first that failed
    /// (store errors other than a refusal, e.g. `.unavailable`, are rethrown as they are).
    public static func verify(_ store: any ObjectStore, scratchKey: String = "_probe/conditional-writes-\(UUID().uuidString)") async throws {
        do {
            try await runChecks(store, scratchKey)
        } catch {
            try? await store.delete(scratchKey)
            throw error
        }
        try await store.delete(scratchKey)
    }

    private static func runChecks(_ store: any ObjectStore, _ key: String) async throws {
        let first: String
        do {
            first = try await store.put(key, Data("probe 1".utf8), condition: .ifAbsent)
        } catch let error as StoreError where error.code == .io || error.code == .preconditionFailed {
            throw ConditionalWritesUnsupported(check: "create", detail: "a create-only put of a new key failed: \(error.message)")
        }
        try await expectRefusal("create-only", "a second If-None-Match: * put of an existing key") {
            try await store.put(key, Data("probe 2".utf8), condition: .ifAbsent)
        }
        try await expectRefusal("compare-and-swap", "a put with If-Match of a wrong etag") {
            try await store.put(key, Data("probe 3".utf8), condition: .ifMatch(first == "0" ? "1" : "0"))
        }
        guard try await store.get(key).bytes == Data("probe 1".utf8) else {
            throw ConditionalWritesUnsupported(check: "compare-and-swap", detail: "a refused put changed the object")
        }
        do {
            try await store.put(key, Data("probe 4".utf8), condition: .ifMatch(first))
        } catch let error as StoreError where error.code == .preconditionFailed || error.code == .io {
            throw ConditionalWritesUnsupported(
                check: "compare-and-swap current", detail: "a put with If-Match of the current etag failed: \(error.message)")
        }
    }

    /// Throws unless the put is refused with `.preconditionFailed`.
    private static func expectRefusal(_ check: String, _ what: String, _ put: () async throws -> Void) async throws {
        do {
            try await put()
        } catch let error as StoreError where error.code == .preconditionFailed {
            return
        } catch let error as StoreError where error.code == .io {
            throw ConditionalWritesUnsupported(check: check, detail: "\(what) failed: \(error.message)")
        }
        throw ConditionalWritesUnsupported(check: check, detail: "\(what) was accepted")
    }
}

extension S3Store {
    /// The start-up probe (`ConditionalWriteProbe`) on a scratch key under this store's
    /// prefix. A writer node calls it before accepting writes and refuses to start when it
    /// throws `ConditionalWritesUnsupported`.
    public func verifyConditionalWrites() async throws {
        try await ConditionalWriteProbe.verify(self)
    }
}
