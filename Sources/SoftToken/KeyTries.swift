internal import CPKCS11

/// Wrong passwords in a row for each always-authenticate key, in the token's `keytries` file
/// ("CBK1" then handle and count, 8 + 4 bytes big-endian, per key with a count). Counted like
/// the PINs: the try is written (atomically and durably) before the password is checked, so a
/// process killed in between has used it up; five lock the key until the SO unlocks it.
struct KeyTries: Equatable {
    static let fileName = "keytries"
    static let limit = PINCounters.limit

    var failures: [CK_OBJECT_HANDLE: UInt32] = [:]

    subscript(_ handle: CK_OBJECT_HANDLE) -> UInt32 {
        get { failures[handle] ?? 0 }
        set { failures[handle] = newValue == 0 ? nil : newValue }
    }

    func encoded() -> [UInt8] {
        var out = Array("CBK1".utf8)
        for (handle, count) in failures.sorted(by: { $0.key < $1.key }) {
            out.append(u64: UInt64(handle))
            out.append(u32: count)
        }
        return out
    }

    /// The counters in a file; a missing or damaged file counts nothing (a damaged one cannot
    /// come from our atomic writes).
    static func decode(_ bytes: [UInt8]?) -> KeyTries {
        guard let bytes, bytes.count >= 4, Array(bytes[0..<4]) == Array("CBK1".utf8) else { return KeyTries() }
        var reader = ByteReader(Array(bytes[4...]))
        var tries = KeyTries()
        while !reader.isAtEnd {
            guard let handle = try? reader.u64(), let count = try? reader.u32() else { break }
            tries.failures[CK_OBJECT_HANDLE(handle)] = count
        }
        return tries
    }
}

extension Token {
    /// Tries a key's secret (its own password, or the user PIN for a key without one) as a
    /// counted try: the count goes up on disk first, comes back to zero when `check` passes.
    /// CKR_PIN_LOCKED once five in a row failed; CKR_PIN_INCORRECT for a wrong one.
    func countedKeyTry<R>(_ handle: CK_OBJECT_HANDLE, _ check: () throws(CKRError) -> R) throws(CKRError) -> R {
        try exclusively { () throws(CKRError) in
            guard keyTries[handle] < KeyTries.limit else { throw CKRError(CKR.pinLocked) }
            var counted = keyTries
            counted[handle] += 1
            try directory.write(KeyTries.fileName, counted.encoded())
            keyTries = counted
        }
        let result: R
        do throws(CKRError) {
            result = try check()
        } catch  where error.rv == CKR.pinIncorrect {
            throw CKRError(keyTries[handle] >= KeyTries.limit ? CKR.pinLocked : CKR.pinIncorrect)
        }
        try exclusively { () throws(CKRError) in
            guard keyTries[handle] != 0 else { return }
            var cleared = keyTries
            cleared[handle] = 0
            try directory.write(KeyTries.fileName, cleared.encoded())
            keyTries = cleared
        }
        return result
    }

    /// Wrong passwords the key still allows, read from the file as it is now.
    func keyTriesLeft(_ handle: CK_OBJECT_HANDLE) -> UInt32 {
        let tries = KeyTries.decode(try? directory.read(KeyTries.fileName))
        return KeyTries.limit - min(tries[handle], KeyTries.limit)
    }

    /// The SO's unlock of a key: the SO PIN proven (a counted SO try), the key's count cleared.
    func unlockKey(_ handle: CK_OBJECT_HANDLE, soPIN: [UInt8]) throws(CKRError) {
        var master = try unlock(CKU.so, pin: soPIN)
        wipe(&master)
        try exclusively { () throws(CKRError) in
            var cleared = keyTries
            cleared[handle] = 0
            try directory.write(KeyTries.fileName, cleared.encoded())
            keyTries = cleared
        }
    }
}
