import Foundation
import Testing

/// STYLE.md: a doc comment on every public declaration. Checked over the library layers'
/// sources, so a new undocumented one fails here rather than in review.
@Suite("doc comments")
struct DocCommentTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources").standardized

    @Test("every public declaration in PKCS11, PKCS12, PCSC, CertStore and the software token has a /// comment")
    func everyPublicDeclarationDocumented() throws {
        let declaration = try Regex(#"^\s*(@[\w.]+(\([^)]*\))?\s+)*(public|open)\s+(?!import\b)"#)
        var missing: [String] = []
        var checked = 0
        for target in ["PKCS11", "PKCS12", "PCSC", "CertStore", "SoftToken", "SoftTokenModule"] {
            let directory = Self.sources.appendingPathComponent(target)
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".swift") {
                let lines = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8).components(separatedBy: "\n")
                for (index, line) in lines.enumerated() where line.firstMatch(of: declaration) != nil {
                    checked += 1
                    var previous = index - 1
                    while previous >= 0, lines[previous].trimmingCharacters(in: .whitespaces).hasPrefix("@") { previous -= 1 }
                    let comment = previous >= 0 ? lines[previous].trimmingCharacters(in: .whitespaces) : ""
                    if !comment.hasPrefix("///") && !comment.hasSuffix("*/") {
                        missing.append("\(target)/\(file):\(index + 1): \(line.trimmingCharacters(in: .whitespaces))")
                    }
                }
            }
        }
        #expect(checked > 300, "the scan found too few public declarations to be looking in the right place")
        #expect(missing.isEmpty, "undocumented:\n\(missing.joined(separator: "\n"))")
    }
}
