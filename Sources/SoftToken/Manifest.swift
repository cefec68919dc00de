internal import CPKCS11

/// The rollback evidence of the store before the catalog (Catalog.swift), in the `manifest`
/// file, sealed under the master key: for each token object rewritten or destroyed while the
/// user was logged in, the lowest generation its file may have (`destroyed` once it is gone).
/// Read once, at the first login after the upgrade: its floors go into the catalog, which is
/// then rewritten under the key, and the file is removed.
struct Manifest: Equatable {
    static let destroyed = UInt64.max
    static let magic: [UInt8] = Array("CBM1".utf8)

    var floors: [CK_OBJECT_HANDLE: UInt64] = [:]

    /// Why an object with this generation must be refused, or nil when it may be used.
    func problem(_ handle: CK_OBJECT_HANDLE, generation: UInt64) -> String? {
        guard let floor = floors[handle] else { return nil }
        if floor == Self.destroyed { return "object \(String(handle, radix: 16)) was destroyed; its file was put back" }
        if generation < floor {
            return
                "object \(String(handle, radix: 16)) is an older copy (generation \(generation), expected \(floor) or later)"
        }
        return nil
    }

    static func aad(serial: String) -> [UInt8] { Array("certbridge manifest \(serial)".utf8) }

    func sealed(masterKey: [UInt8], serial: String) throws(CKRError) -> [UInt8] {
        var plain: [UInt8] = []
        for (handle, floor) in floors.sorted(by: { $0.key < $1.key }) {
            plain.append(u64: UInt64(handle))
            plain.append(u64: floor)
        }
        return Self.magic + (try Sealing.seal(plain, key: masterKey, aad: Self.aad(serial: serial)))
    }

    /// The manifest in `bytes` (none: empty); a file that does not open under the key is an error.
    static func open(_ bytes: [UInt8]?, masterKey: [UInt8], serial: String) throws(CKRError) -> Manifest {
        guard let bytes else { return Manifest() }
        guard bytes.count > 4, Array(bytes[0..<4]) == magic,
            let plain = Sealing.open(Array(bytes[4...]), key: masterKey, aad: aad(serial: serial))
        else {
            throw CKRError(CKR.deviceError)
        }
        var reader = ByteReader(plain)
        var manifest = Manifest()
        while !reader.isAtEnd {
            let handle = CK_OBJECT_HANDLE(try reader.u64())
            manifest.floors[handle] = try reader.u64()
        }
        return manifest
    }
}
