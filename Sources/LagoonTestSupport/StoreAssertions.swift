public import Store

/// The `StoreError` code the body throws, or nil when it returns normally or throws
/// something else. Use as `#expect(await storeErrorCode { try await … } == .notFound)`.
public func storeErrorCode(_ body: () async throws -> Void) async -> StoreError.Code? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error.code
    } catch {
        return nil
    }
}
