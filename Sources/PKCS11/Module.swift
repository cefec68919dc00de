internal import CPKCS11
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A loaded PKCS#11 module (a shared library with C_GetFunctionList), initialized for use from
/// several threads. One instance per library path in a process: Cryptoki is process-global state.
public final class Module: @unchecked Sendable {
    // @unchecked: `functions` is immutable after init and the module was initialized with
    // CKF_OS_LOCKING_OK, so it may be called from any thread.

    /// The path the module was loaded from.
    public let path: String
    let functions: UnsafeMutablePointer<CK_FUNCTION_LIST>
    /// Whether our C_Initialize succeeded; we never finalize a module someone else initialized.
    private let initializedHere: Bool

    private static let loaded = Mutex<[String: Module]>([:])

    /// Loads the module at `path` (dlopen + C_GetFunctionList + C_Initialize), or returns the
    /// instance this process already has. CKR_CRYPTOKI_ALREADY_INITIALIZED is not an error.
    public static func load(path: String) throws(PKCS11Error) -> Module {
        let key = canonicalPath(path)
        let result: Result<Module, PKCS11Error> = loaded.withLock { modules in
            if let module = modules[key] { return .success(module) }
            do throws(PKCS11Error) {
                let module = try Module(path: key)
                modules[key] = module
                return .success(module)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private init(path: String) throws(PKCS11Error) {
        self.path = path
        // RTLD_NODELETE: unloading a module that links a Swift runtime breaks the next one; and
        // we never dlclose anyway, since a module's threads may outlive us.
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let why = cb_dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PKCS11Error(.moduleNotLoadable, reason: "cannot load PKCS#11 module \(path): \(why)")
        }
        guard let symbol = dlsym(handle, "C_GetFunctionList") else {
            throw PKCS11Error(.moduleNotLoadable, reason: "\(path) is not a PKCS#11 module (no C_GetFunctionList)")
        }
        typealias GetFunctionList =
            @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CK_FUNCTION_LIST>?>?) -> CK_RV
        let getFunctionList = unsafeBitCast(symbol, to: GetFunctionList.self)
        var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
        try check("C_GetFunctionList", getFunctionList(&list))
        guard let list else {
            throw PKCS11Error(
                .moduleNotLoadable, function: "C_GetFunctionList", reason: "\(path) returned no function list")
        }
        functions = list

        var args = CK_C_INITIALIZE_ARGS()
        args.flags = CK_FLAGS(CKF_OS_LOCKING_OK)
        let rv = withUnsafeMutablePointer(to: &args) { list.pointee.C_Initialize?(UnsafeMutableRawPointer($0)) }
        if rv == ReturnValue.cryptokiAlreadyInitialized.rawValue {
            initializedHere = false
        } else {
            try check("C_Initialize", rv)
            initializedHere = true
        }
    }

    deinit {
        if initializedHere { _ = functions.pointee.C_Finalize?(nil) }
    }

    /// What the module says about itself (C_GetInfo).
    public func info() throws(PKCS11Error) -> ModuleInfo {
        var info = CK_INFO()
        try check("C_GetInfo", functions.pointee.C_GetInfo?(&info))
        return ModuleInfo(
            path: path,
            manufacturer: paddedString(info.manufacturerID),
            description: paddedString(info.libraryDescription),
            cryptokiVersion: "\(info.cryptokiVersion.major).\(info.cryptokiVersion.minor)",
            libraryVersion: "\(info.libraryVersion.major).\(info.libraryVersion.minor)")
    }

    /// The module's slots (C_GetSlotList), by default only those with a token present.
    public func slots(tokenPresent: Bool = true) throws(PKCS11Error) -> [Slot] {
        var ids: [CK_SLOT_ID] = []
        // The count can change between the two calls (a card inserted): retry on BUFFER_TOO_SMALL.
        while true {
            var count: CK_ULONG = 0
            try check("C_GetSlotList", functions.pointee.C_GetSlotList?(tokenPresent ? 1 : 0, nil, &count))
            // No slots: asking again with an empty buffer makes some modules (p11-kit's RPC
            // client) answer CKR_BUFFER_TOO_SMALL forever.
            if count == 0 { return [] }
            ids = Array(repeating: 0, count: Int(count))
            let rv = functions.pointee.C_GetSlotList?(tokenPresent ? 1 : 0, &ids, &count)
            if rv == ReturnValue.bufferTooSmall.rawValue { continue }
            try check("C_GetSlotList", rv)
            ids.removeLast(ids.count - Int(count))
            break
        }
        return ids.map { Slot(module: self, id: $0) }
    }

    /// The mechanism types a slot's token offers (C_GetMechanismList).
    func mechanisms(slot: UInt) throws(PKCS11Error) -> [MechanismType] {
        var count: CK_ULONG = 0
        try check("C_GetMechanismList", functions.pointee.C_GetMechanismList?(slot, nil, &count))
        var types = [CK_MECHANISM_TYPE](repeating: 0, count: Int(count))
        try check("C_GetMechanismList", functions.pointee.C_GetMechanismList?(slot, &types, &count))
        return types.prefix(Int(count)).map(MechanismType.init(rawValue:))
    }

    private static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// CK_INFO, as text.
public struct ModuleInfo: Sendable, Hashable, Codable {
    /// The path the module was loaded from.
    public let path: String
    /// CK_INFO.manufacturerID.
    public let manufacturer: String
    /// CK_INFO.libraryDescription.
    public let description: String
    /// The Cryptoki version the module implements, e.g. `2.40`.
    public let cryptokiVersion: String
    /// The module's own version.
    public let libraryVersion: String
}

/// Reads a blank-padded, not NUL-terminated CK_UTF8CHAR field.
func paddedString<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { raw in
        var bytes = Array(raw)
        while let last = bytes.last, last == 0x20 || last == 0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Writes a string into a blank-padded CK_UTF8CHAR field (C_InitToken's label).
func paddedField(_ string: String, length: Int) -> [UInt8] {
    var bytes = Array(string.utf8.prefix(length))
    bytes += Array(repeating: 0x20, count: length - bytes.count)
    return bytes
}
