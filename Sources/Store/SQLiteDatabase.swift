import CSQLite

/// A value bound to or read from an SQL statement.
enum SQLiteValue: Equatable {
    case integer(Int64)
    case text(String)
    case null

    var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    var text: String? { if case .text(let value) = self { value } else { nil } }
}

struct SQLiteError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { "sqlite error \(code): \(message)" }
}

/// One SQLite connection (libsqlite3), used by one thread at a time: the owner guards it
/// with a lock. Statements are prepared per call; the disk-cache catalog is small and
/// its statements are cheap next to the file I/O they accompany.
final class SQLiteDatabase {
    private var handle: OpaquePointer?

    init(path: String) throws(SQLiteError) {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK else {
            let error = SQLiteError(code: status, message: handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)")
            sqlite3_close(handle)
            throw error
        }
        sqlite3_busy_timeout(handle, 5_000)
    }

    deinit { sqlite3_close(handle) }

    /// Runs one statement with its parameters (`?1`, `?2`…) and returns every row.
    @discardableResult
    func execute(_ sql: String, _ parameters: [SQLiteValue] = []) throws(SQLiteError) -> [[SQLiteValue]] {
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v2(handle, sql, -1, &statement, nil))
        defer { sqlite3_finalize(statement) }
        for (offset, parameter) in parameters.enumerated() {
            let index = Int32(offset + 1)
            switch parameter {
            case .integer(let value): try check(sqlite3_bind_int64(statement, index, value))
            case .text(let value): try check(lagoon_sqlite3_bind_text(statement, index, value))
            case .null: try check(sqlite3_bind_null(statement, index))
            }
        }
        var rows: [[SQLiteValue]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { try check(status); return rows }
            rows.append((0..<sqlite3_column_count(statement)).map { column in
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, column))
                case SQLITE_NULL: .null
                default: .text(String(cString: sqlite3_column_text(statement, column)))
                }
            })
        }
    }

    private func check(_ status: Int32) throws(SQLiteError) {
        guard status != SQLITE_OK && status != SQLITE_ROW && status != SQLITE_DONE else { return }
        throw SQLiteError(code: status, message: String(cString: sqlite3_errmsg(handle)))
    }
}
