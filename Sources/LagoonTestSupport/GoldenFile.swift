public import Foundation

/// Golden-file comparison for rendered text (explain plans and the like).
///
/// A golden file holds the expected text. `{{*}}` in a golden line matches any run of
/// characters within that line (use it for ids or float noise, never for counts, which are
/// deterministic). With `LAGOON_RECORD_GOLDEN=1` in the environment, `verify` rewrites the
/// golden file with the actual text whenever they differ (a file that already matches,
/// wildcards included, is left alone) and reports success.
///
///     let mismatch = GoldenFile.verify(text, at: GoldenFile.url("explain/knn.txt"))
///     if let mismatch { Issue.record(Comment(rawValue: mismatch)) }
public enum GoldenFile {
    public static let wildcard = "{{*}}"
    public static let recordVariable = "LAGOON_RECORD_GOLDEN"

    /// True when the environment asks to (re)record golden files.
    public static var isRecording: Bool {
        ProcessInfo.processInfo.environment[recordVariable] == "1"
    }

    /// The package root: the nearest ancestor of `filePath` holding `Package.swift`.
    public static func packageRoot(filePath: String = #filePath) -> URL {
        var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory
            }
            directory = directory.deletingLastPathComponent()
        }
        preconditionFailure("no Package.swift above \(filePath)")
    }

    /// `Fixtures/golden/<relativePath>` in the package.
    public static func url(_ relativePath: String, filePath: String = #filePath) -> URL {
        packageRoot(filePath: filePath).appendingPathComponent("Fixtures/golden").appendingPathComponent(relativePath)
    }

    /// Compares `actual` with the golden file. Returns nil when they match (or when the file
    /// was just recorded), otherwise a message with a line diff (`-` golden, `+` actual).
    public static func verify(_ actual: String, at url: URL, record: Bool = isRecording) -> String? {
        let golden = try? String(contentsOf: url, encoding: .utf8)
        if let golden, matches(actual, golden: golden) { return nil }
        if record {
            do {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try actual.write(to: url, atomically: true, encoding: .utf8)
                return nil
            } catch {
                return "cannot record golden file \(url.path): \(error)"
            }
        }
        guard let golden else {
            return "golden file \(url.path) is missing; run with \(recordVariable)=1 to record it. Actual:\n\(actual)"
        }
        return "\(url.path) does not match (run with \(recordVariable)=1 to re-record):\n" + diff(golden: golden, actual: actual)
    }

    /// True when every line of `actual` matches the golden line at the same position.
    public static func matches(_ actual: String, golden: String) -> Bool {
        let a = lines(actual), g = lines(golden)
        return a.count == g.count && zip(a, g).allSatisfy { lineMatches($0, pattern: $1) }
    }

    /// True when `line` matches `pattern`, where each `{{*}}` stands for any characters.
    public static func lineMatches(_ line: Substring, pattern: Substring) -> Bool {
        let parts = pattern.components(separatedBy: wildcard)
        guard parts.count > 1 else { return line == pattern }
        let first = parts[0], last = parts[parts.count - 1]
        guard line.count >= first.count + last.count, line.hasPrefix(first), line.hasSuffix(last) else { return false }
        // Leftmost matching of the middle parts is enough for a pattern whose only wildcard is `*`.
        var rest = line.dropFirst(first.count).dropLast(last.count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }

    /// A line diff from the longest common subsequence (wildcard-aware): unchanged lines
    /// start with two spaces, golden-only lines with `- `, actual-only lines with `+ `.
    public static func diff(golden: String, actual: String) -> String {
        let g = lines(golden), a = lines(actual)
        // lcs[i][j]: length of the LCS of g[i...] and a[j...].
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: a.count + 1), count: g.count + 1)
        for i in stride(from: g.count - 1, through: 0, by: -1) {
            for j in stride(from: a.count - 1, through: 0, by: -1) {
                lcs[i][j] = lineMatches(a[j], pattern: g[i]) ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < g.count || j < a.count {
            if i < g.count, j < a.count, lineMatches(a[j], pattern: g[i]) {
                out.append("  " + a[j])
                i += 1
                j += 1
            } else if i < g.count, j == a.count || lcs[i + 1][j] >= lcs[i][j + 1] {
                out.append("- " + g[i])
                i += 1
            } else {
                out.append("+ " + a[j])
                j += 1
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Lines without their terminators; a final newline does not make an extra empty line.
    static func lines(_ text: String) -> [Substring] {
        var result = text.split(separator: "\n", omittingEmptySubsequences: false)
        if result.last == "" { result.removeLast() }
        return result
    }
}
