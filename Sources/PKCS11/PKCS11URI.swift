/// A PKCS#11 URI (RFC 7512), e.g. `pkcs11:token=Backup;object=alice;type=private`.
/// Parsing fails closed: an attribute we do not understand is an error, not ignored, because
/// ignoring it could select a different object than the user meant.
public struct PKCS11URI: Sendable, Hashable, CustomStringConvertible {
    /// CKA_CLASS as the URI's `type` names it.
    public enum ObjectType: String, Sendable, CaseIterable {
        case publicKey = "public"
        case privateKey = "private"
        case certificate = "cert"
        case secretKey = "secret-key"
        case data

        /// The CKO_* class this type names.
        public var objectClass: ObjectClass {
            switch self {
            case .publicKey: .publicKey
            case .privateKey: .privateKey
            case .certificate: .certificate
            case .secretKey: .secretKey
            case .data: .data
            }
        }
    }

    // Path attributes (what identifies a token or object).
    /// `token`: the token label.
    public var token: String?
    /// `manufacturer`: the token manufacturer.
    public var manufacturer: String?
    /// `serial`: the token serial number.
    public var serial: String?
    /// `model`: the token model.
    public var model: String?
    /// `object`: the object label.
    public var object: String?
    /// `id`: the object's CKA_ID bytes.
    public var id: [UInt8]?
    /// `type`: the object class.
    public var type: ObjectType?
    /// `slot-id`.
    public var slotID: UInt?
    /// `slot-description`.
    public var slotDescription: String?
    /// `slot-manufacturer`.
    public var slotManufacturer: String?
    /// `library-manufacturer`.
    public var libraryManufacturer: String?
    /// `library-description`.
    public var libraryDescription: String?
    /// `library-version`.
    public var libraryVersion: String?
    // Query attributes.
    /// `pin-source` (query): where the PIN comes from.
    public var pinSource: String?
    /// `module-path` (query): the module to load.
    public var modulePath: String?
    /// `module-name` (query): a p11-kit module name.
    public var moduleName: String?

    /// The URI that matches everything: `pkcs11:`.
    public init() {}

    /// Parses `text`; throws `invalidURI` with a sentence naming the part that is wrong.
    public init(_ text: String) throws(PKCS11Error) {
        guard text.hasPrefix("pkcs11:") else {
            throw Self.invalid(text, "it does not start with \"pkcs11:\"")
        }
        let rest = text.dropFirst("pkcs11:".count)
        let (path, query) = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            .map(String.init).splitPair()
        for part in path.split(separator: ";", omittingEmptySubsequences: true) {
            try apply(String(part), inQuery: false, uri: text)
        }
        for part in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            try apply(String(part), inQuery: true, uri: text)
        }
    }

    private mutating func apply(_ part: String, inQuery: Bool, uri: String) throws(PKCS11Error) {
        guard let equals = part.firstIndex(of: "=") else {
            throw Self.invalid(uri, "\"\(part)\" is not of the form name=value")
        }
        let name = String(part[..<equals])
        let raw = String(part[part.index(after: equals)...])
        guard let bytes = Self.percentDecode(raw) else {
            throw Self.invalid(uri, "the value of \"\(name)\" has a malformed percent-escape")
        }
        func text() throws(PKCS11Error) -> String {
            guard let string = String(validating: bytes, as: UTF8.self) else {
                throw Self.invalid(uri, "the value of \"\(name)\" is not UTF-8")
            }
            return string
        }
        func set<T>(_ field: inout T?, _ value: T) throws(PKCS11Error) {
            guard field == nil else { throw Self.invalid(uri, "\"\(name)\" is given twice") }
            field = value
        }
        switch (inQuery, name) {
        case (false, "token"): try set(&token, text())
        case (false, "manufacturer"): try set(&manufacturer, text())
        case (false, "serial"): try set(&serial, text())
        case (false, "model"): try set(&model, text())
        case (false, "object"): try set(&object, text())
        case (false, "id"): try set(&id, bytes)
        case (false, "type"):
            guard let value = ObjectType(rawValue: try text()) else {
                throw Self.invalid(
                    uri, "type must be one of \(ObjectType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try set(&type, value)
        case (false, "slot-id"):
            guard let value = UInt(try text()) else { throw Self.invalid(uri, "slot-id must be a decimal number") }
            try set(&slotID, value)
        case (false, "slot-description"): try set(&slotDescription, text())
        case (false, "slot-manufacturer"): try set(&slotManufacturer, text())
        case (false, "library-manufacturer"): try set(&libraryManufacturer, text())
        case (false, "library-description"): try set(&libraryDescription, text())
        case (false, "library-version"): try set(&libraryVersion, text())
        case (true, "pin-source"): try set(&pinSource, text())
        case (true, "module-path"): try set(&modulePath, text())
        case (true, "module-name"): try set(&moduleName, text())
        case (true, "pin-value"):
            throw Self.invalid(
                uri, "pin-value is refused: a PIN on the command line is visible to every user; use --pin-source")
        default:
            throw Self.invalid(
                uri, "\"\(name)\" is not a \(inQuery ? "query" : "path") attribute CertBridge understands")
        }
    }

    private static func invalid(_ uri: String, _ why: String) -> PKCS11Error {
        PKCS11Error(.invalidURI, reason: "invalid PKCS#11 URI: \(why)")
    }

    // MARK: Matching

    /// Whether a token fits the token part of this URI (absent attributes match anything).
    public func matches(_ token: TokenInfo) -> Bool {
        (self.token.map { $0 == token.label } ?? true)
            && (manufacturer.map { $0 == token.manufacturer } ?? true)
            && (serial.map { $0 == token.serialNumber } ?? true)
            && (model.map { $0 == token.model } ?? true)
    }

    /// Whether a slot fits the slot and library part of this URI.
    public func matches(slot: Slot, slotInfo: SlotInfo, module: ModuleInfo) -> Bool {
        (slotID.map { $0 == slot.id } ?? true)
            && (slotDescription.map { $0 == slotInfo.description } ?? true)
            && (slotManufacturer.map { $0 == slotInfo.manufacturer } ?? true)
            && (libraryManufacturer.map { $0 == module.manufacturer } ?? true)
            && (libraryDescription.map { $0 == module.description } ?? true)
            && (libraryVersion.map { $0 == module.libraryVersion } ?? true)
    }

    /// Whether the URI names anything about objects (as opposed to only a token).
    public var namesObject: Bool { object != nil || id != nil || type != nil }

    /// The C_FindObjectsInit template for the object part of this URI.
    public var objectTemplate: [Attribute] {
        var template: [Attribute] = []
        if let type { template.append(Attribute(type.objectClass)) }
        if let object { template.append(Attribute(.label, string: object)) }
        if let id { template.append(Attribute(.id, bytes: id)) }
        return template
    }

    // MARK: Printing

    /// The URI in RFC 7512 form, path attributes in a fixed order.
    public var description: String {
        // Appended into one buffer: a listing prints a URI for every object.
        var out = Array("pkcs11:".utf8)
        out.reserveCapacity(160)
        // Before the next attribute: nothing at first, then ";"; in the query "?", then "&".
        var separator: UInt8?
        func put(_ name: String, _ value: String?, encoded: Bool = true) {
            guard let value else { return }
            if let separator { out.append(separator) }
            out += name.utf8
            out.append(UInt8(ascii: "="))
            if encoded { Self.percentEncode(value.utf8, into: &out) } else { out += value.utf8 }
            separator = separator == UInt8(ascii: "?") ? UInt8(ascii: "&") : separator ?? UInt8(ascii: ";")
        }
        put("library-manufacturer", libraryManufacturer)
        put("library-description", libraryDescription)
        put("library-version", libraryVersion)
        put("slot-manufacturer", slotManufacturer)
        put("slot-description", slotDescription)
        put("slot-id", slotID.map { String($0) }, encoded: false)
        put("manufacturer", manufacturer)
        put("model", model)
        put("serial", serial)
        put("token", token)
        put("object", object)
        put("id", id.map { Self.percentEncodeAll($0) }, encoded: false)
        put("type", type?.rawValue, encoded: false)
        separator = UInt8(ascii: "?")
        put("pin-source", pinSource)
        put("module-name", moduleName)
        put("module-path", modulePath)
        return String(decoding: out, as: UTF8.self)
    }

    // RFC 7512's pchar minus the separators it reserves (";", "?", "&", "=" inside values),
    // as a table by byte: a URI is printed for every object a listing shows.
    private static let unreserved: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:[]@!$'()*+,/".utf8 {
            table[Int(byte)] = true
        }
        return table
    }()
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    static func percentEncode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        percentEncode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func percentEncode(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
        for byte in bytes {
            if unreserved[Int(byte)] {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            }
        }
    }

    /// Every byte as %XX (CKA_ID, which is binary).
    static func percentEncodeAll(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for byte in bytes { out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]] }
        return String(decoding: out, as: UTF8.self)
    }

    static func percentDecode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                continue
            }
            guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            else { return nil }
            out.append(value)
            bytes = bytes.dropFirst(2)
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> String {
        String(decoding: [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]], as: UTF8.self)
    }
}

extension Array where Element == String {
    fileprivate func splitPair() -> (String, String?) { (self[0], count > 1 ? self[1] : nil) }
}
