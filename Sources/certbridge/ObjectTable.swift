import CertStore

/// `certbridge objects` as a table: one line per object (label, class, key type, security
/// level, verdict, id), printed as the objects are read. The column widths are set by the
/// first rows, so the table streams; a later, longer cell pushes its line out rather than wait.
struct ObjectTable {
    /// Cut labels longer than this (with "…"); nil keeps them whole.
    let labelLimit: Int?
    private var pending: [[String]] = [Self.header]
    private var widths: [Int]?
    /// How many objects were added.
    private(set) var count = 0

    static let header = ["LABEL", "CLASS", "TYPE", "SECURITY", "VERDICT", "ID"]
    /// Rows looked at before the widths are fixed.
    static let sample = 64

    init(labelLimit: Int?) { self.labelLimit = labelLimit }

    /// The row for one object.
    func row(_ object: ObjectSummary) -> [String] {
        // Labels and ids come from the token: control characters are made visible first.
        var label = object.label.isEmpty ? "(no label)" : object.label.visible
        if let labelLimit, label.count > labelLimit { label = String(label.prefix(labelLimit - 1)) + "…" }
        let type: String
        if let keyType = object.keyType {
            type = [keyType, object.curve ?? object.keyBits.map(String.init)].compactMap { $0 }.joined(separator: " ")
        } else {
            type = "-"
        }
        let security = object.flags == nil ? "-" : (object.securityLevel?.rawValue ?? SecurityLevel.standard.rawValue)
        return [
            label, object.class, type.visible, security, object.verdict ?? "-", object.id.isEmpty ? "-" : object.id,
        ]
    }

    /// Adds an object: held back while the widths are being set, else printed at once.
    mutating func add(_ object: ObjectSummary) {
        count += 1
        if let widths { return print(tableLine(row(object), widths: widths)) }
        pending.append(row(object))
        if pending.count > Self.sample { flush() }
    }

    /// Prints what is held back.
    mutating func finish() { if widths == nil, count > 0 { flush() } }

    private mutating func flush() {
        var widths = [Int](repeating: 0, count: Self.header.count)
        for row in pending { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        for row in pending { print(tableLine(row, widths: widths)) }
        pending = []
        self.widths = widths
    }
}
