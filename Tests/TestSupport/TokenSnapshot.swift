import PKCS11

extension TestToken {
    /// Every object on the token with its readable identifying attributes and key flags, sorted:
    /// two snapshots are equal when the token holds exactly the same objects. This is how tests
    /// prove that a refused or rolled-back operation left the token "exactly as before".
    public func snapshot() throws -> [String] {
        let types: [AttributeType] = [
            .class, .label, .id, .value, .modulus, .ecPoint, .extractable, .alwaysAuthenticate,
        ]
        return try userSession().findObjects([]).map { object in
            try object.attributes(types).values
                .sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key)=\(hexString($0.value))" }.joined(
                    separator: ";")
        }.sorted()
    }
}
