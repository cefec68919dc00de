internal import CPKCS11

/// What the `token` file holds: the label and serial, the KDF cost, the token's master key
/// wrapped under the user PIN (once set), and the SO's way to it: the SO key wrapped under the
/// SO PIN, which opens the SO's private key, to which the master key is sealed (SOEscrow). A
/// user's PIN change makes a new master key and a new key epoch: the private objects and the
/// catalog sealed under it are written to the next epoch's files before this file, the commit,
/// is replaced. Tokens from before the escrow have no SO key pair: their SO PIN wraps the
/// master key itself.
struct TokenRecord {
    static let magic: [UInt8] = Array("CBT1".utf8)

    var label: [UInt8]  // 32 bytes, blank-padded
    var serial: String  // 16 hex digits, also the directory name
    var iterations: UInt32
    var soSalt: [UInt8]
    var soWrapped: [UInt8]
    var userSalt: [UInt8]?
    var userWrapped: [UInt8]?
    /// The SO's public point, its private key sealed under the SO key, and the master key
    /// sealed to the public point (all three, or none on a token made before them).
    var soPublic: [UInt8]?
    var soPrivate: [UInt8]?
    var soMasterCopy: [UInt8]?
    /// Which files hold the objects and the catalog (TokenDirectory.objectsFolder).
    var epoch: UInt32 = 0

    var userPINInitialized: Bool { userWrapped != nil }

    func encoded() -> [UInt8] {
        var out = Self.magic
        func field(_ tag: UInt32, _ value: [UInt8]) {
            out.append(u32: tag)
            out.append(u32: UInt32(value.count))
            out.append(contentsOf: value)
        }
        field(1, label)
        field(2, Array(serial.utf8))
        var cost: [UInt8] = []
        cost.append(u32: iterations)
        field(3, cost)
        field(4, soSalt)
        field(5, soWrapped)
        if let userSalt, let userWrapped {
            field(6, userSalt)
            field(7, userWrapped)
        }
        if let soPublic, let soPrivate, let soMasterCopy {
            field(8, soPublic)
            field(9, soPrivate)
            field(10, soMasterCopy)
        }
        if epoch != 0 {
            var value: [UInt8] = []
            value.append(u32: epoch)
            field(11, value)
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(CKRError) -> TokenRecord {
        var reader = ByteReader(bytes)
        guard Array(try reader.take(4)) == magic else { throw CKRError(CKR.deviceError) }
        var fields: [UInt32: [UInt8]] = [:]
        while !reader.isAtEnd {
            let tag = try reader.u32()
            let length = Int(try reader.u32())
            fields[tag] = Array(try reader.take(length))
        }
        guard let label = fields[1], label.count == 32, let serial = fields[2], let cost = fields[3], cost.count == 4,
            let soSalt = fields[4], let soWrapped = fields[5]
        else { throw CKRError(CKR.deviceError) }
        var costReader = ByteReader(cost)
        var record = TokenRecord(
            label: label, serial: String(decoding: serial, as: UTF8.self),
            iterations: try costReader.u32(), soSalt: soSalt, soWrapped: soWrapped,
            userSalt: fields[6], userWrapped: fields[7])
        if let soPublic = fields[8], let soPrivate = fields[9], let soMasterCopy = fields[10] {
            record.soPublic = soPublic
            record.soPrivate = soPrivate
            record.soMasterCopy = soMasterCopy
        }
        if let epoch = fields[11] {
            var epochReader = ByteReader(epoch)
            record.epoch = try epochReader.u32()
        }
        return record
    }
}

/// Failed PIN tries, in the `pins` file. A try is counted (written and fsynced) before the PIN
/// is checked and cleared after it matched, so killing the process mid-check cannot reset it.
struct PINCounters: Equatable {
    static let limit: UInt32 = 5

    var user: UInt32 = 0
    var so: UInt32 = 0

    func encoded() -> [UInt8] {
        var out = Array("CBP1".utf8)
        out.append(u32: user)
        out.append(u32: so)
        return out
    }

    static func decode(_ bytes: [UInt8]?) throws(CKRError) -> PINCounters {
        guard let bytes else { return PINCounters() }
        var reader = ByteReader(bytes)
        guard Array(try reader.take(4)) == Array("CBP1".utf8) else { throw CKRError(CKR.deviceError) }
        return PINCounters(user: try reader.u32(), so: try reader.u32())
    }

    /// CKF_*_PIN_COUNT_LOW / FINAL_TRY / LOCKED for one counter.
    static func flags(_ failures: UInt32, low: CK_FLAGS, finalTry: CK_FLAGS, locked: CK_FLAGS) -> CK_FLAGS {
        if failures >= limit { return locked }
        if failures == limit - 1 { return low | finalTry }
        return failures > 0 ? low : 0
    }
}
