public import PKCS11

/// The certificate store over every token CertBridge can reach: the PKCS#11 modules registered
/// with p11-kit (or the ones named with --module), one code path for hardware and software.
public final class Store {
    /// The modules that loaded.
    let modules: [Module]
    /// Modules that failed to load, with why; shown, not fatal, unless nothing loaded.
    public let problems: [String]
    /// Objects that failed their token's integrity check in the listings made so far (see
    /// IntegrityReport.swift), one sentence each.
    public internal(set) var integrityFailures: [String] = []
    /// Where the store says what it did of its own accord, such as rolling back an import a
    /// killed process left half-done (Store+Recovery.swift); the CLI prints it on stderr.
    public var report: (String) -> Void = { _ in }
    /// The tokens whose import journals were looked at already. An array: a store has a few
    /// tokens, and a Set's first insert (its storage, hashing four strings) was about 1 % of
    /// `certbridge tokens`.
    var journalsChecked: [ImportJournal.TokenIdentity] = []

    /// Loads the named module paths, or, when none are named, every module registered with
    /// p11-kit and the software token. A `uri` whose module-path or module-name rules modules
    /// out leaves those unloaded (a module costs its dlopen and C_Initialize at every start);
    /// when it rules out all of them, all are loaded, so "no such token" still lists the tokens.
    public init(modulePaths: [String] = [], for uri: PKCS11URI? = nil) throws(StoreError) {
        let explicit = !modulePaths.isEmpty
        var paths = explicit ? modulePaths : ModuleRegistry.registeredModules().map(\.path)
        // The software token is the fallback when no hardware is present: always there, whether
        // or not p11-kit knows it.
        if !explicit, let softToken = SoftToken.modulePath,
            !paths.contains(where: { $0.hasSuffix("/" + SoftToken.libraryName) })
        {
            paths.append(softToken)
        }
        if !explicit, let uri, uri.modulePath != nil || uri.moduleName != nil {
            let wanted = paths.filter { Self.module(at: $0, matches: uri) }
            if !wanted.isEmpty { paths = wanted }
        }
        var modules: [Module] = []
        var problems: [String] = []
        for path in paths {
            do throws(PKCS11Error) {
                let module = try Module.load(path: path)
                if !modules.contains(where: { $0 === module }) { modules.append(module) }
            } catch {
                // A module named by the user that does not load is an error; a registered one
                // that does not (a driver for absent hardware) is a note.
                if explicit { throw StoreError(error, doing: "loading \(path)") }
                problems.append(error.reason)
            }
        }
        guard !modules.isEmpty else {
            throw StoreError(
                .notFound,
                "no PKCS#11 module could be loaded" + (problems.isEmpty ? "" : ": " + problems.joined(separator: "; ")))
        }
        self.modules = modules
        self.problems = problems
    }

    /// Whether a module at `path` can hold what the URI's module-path and module-name name.
    static func module(at path: String, matches uri: PKCS11URI) -> Bool {
        if let wanted = uri.modulePath, !(path.hasSuffix(wanted) || path == wanted) { return false }
        if let name = uri.moduleName, !path.contains(name) { return false }
        return true
    }

    /// Every token present in every module's slots, with the slot and module it sits in.
    public func tokens(matching uri: PKCS11URI? = nil) -> [Token] {
        var found: [Token] = []
        for module in modules where uri.map({ Self.module(at: module.path, matches: $0) }) ?? true {
            guard let moduleInfo = try? module.info(), let slots = try? module.slots() else { continue }
            for slot in slots {
                guard let token = (try? slot.token()).map(Token.init) else { continue }
                if let uri {
                    guard let slotInfo = try? slot.info(), uri.matches(token.info),
                        uri.matches(slot: slot, slotInfo: slotInfo, module: moduleInfo)
                    else { continue }
                }
                found.append(token)
            }
        }
        return found
    }

    /// The one token a URI names: an error that lists the candidates when it names none or several.
    public func token(matching uri: PKCS11URI) throws(StoreError) -> Token {
        let matches = tokens(matching: uri)
        if matches.count == 1 { return matches[0] }
        let all = tokens().filter { $0.info.flags.contains(.tokenInitialized) }
            .map { "\"\($0.info.label)\"" }.joined(separator: ", ")
        if matches.isEmpty {
            throw StoreError(
                .notFound,
                "no token matches \(uri.tokenPart); tokens present: \(all.isEmpty ? "none" : all)" + emptyReadersHint)
        }
        throw StoreError(
            .usage,
            "\(matches.count) tokens match \(uri.tokenPart) (\(matches.map { "\"\($0.info.label)\"" }.joined(separator: ", "))); name one with token=LABEL or serial=SERIAL"
        )
    }
}

extension Store {
    /// The paths of the modules that loaded.
    public var modulePaths: [String] { modules.map(\.path) }
}

extension Store {
    /// For a "no such token" message: the card readers (removable slots) that are empty now,
    /// since the usual reason a card's token is missing is that the card was pulled.
    var emptyReadersHint: String {
        var empty: [String] = []
        for module in modules {
            for slot in (try? module.slots(tokenPresent: false)) ?? [] {
                guard let info = try? slot.info(), info.removableDevice, !info.tokenPresent else { continue }
                let name = info.description.trimmingTrailingSpaces
                if !empty.contains(name) { empty.append(name) }
            }
        }
        guard !empty.isEmpty else { return "" }
        return "; no card in " + empty.map { "\"\($0)\"" }.joined(separator: ", ") + ": was the card removed?"
    }
}

extension PKCS11URI {
    /// The URI cut down to what names a token, for messages.
    var tokenPart: String {
        var part = self
        part.object = nil
        part.id = nil
        part.type = nil
        part.pinSource = nil
        return part.description
    }
}

extension Token {
    /// The URI that names this token.
    public var uri: PKCS11URI {
        var uri = PKCS11URI()
        uri.token = info.label
        uri.manufacturer = info.manufacturer
        uri.serial = info.serialNumber
        uri.model = info.model
        return uri
    }
}
