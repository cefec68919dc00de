#if canImport(Glibc)
    import Glibc
#endif

/// The PKCS#11 modules registered with p11-kit: `*.module` files that name a library.
/// We read the same configuration p11-kit does, so a token set up for Firefox or ssh through
/// p11-kit is found here too.
public struct RegisteredModule: Sendable, Hashable {
    /// The config file's name without `.module` (p11-kit's module name).
    public let name: String
    /// The library's absolute path.
    public let path: String
}

/// The modules registered with p11-kit, read from its module configuration directories.
public enum ModuleRegistry {
    /// p11-kit's configuration directories, system first. p11-kit ignores the user's own
    /// directory when running as root, and so do we.
    public static var configDirectories: [String] {
        var dirs = ["/usr/share/p11-kit/modules", "/etc/pkcs11/modules"]
        if getuid() != 0, let home = getenv("HOME") {
            dirs.append(String(cString: home) + "/.config/pkcs11/modules")
        }
        return dirs
    }

    /// Where p11-kit looks for modules named by a relative path.
    static let moduleDirectories = [
        "/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib/aarch64-linux-gnu/pkcs11", "/usr/lib64/pkcs11", "/usr/lib/pkcs11",
    ]

    /// Every enabled module, later directories overriding earlier ones by name, as p11-kit does.
    /// Trust-policy modules (p11-kit-trust: the system's CA list) hold no keys and are left out.
    public static func registeredModules(configDirectories: [String] = configDirectories) -> [RegisteredModule] {
        var byName: [String: RegisteredModule?] = [:]
        var order: [String] = []
        for dir in configDirectories {
            for file in listDirectory(dir).sorted() where file.hasSuffix(".module") {
                let name = String(file.dropLast(".module".count))
                guard let text = readText(dir + "/" + file) else { continue }
                let config = parse(text)
                if !order.contains(name) { order.append(name) }
                guard let module = config["module"], config["enable-in"].map({ $0.contains("certbridge") }) ?? true,
                    !(config["disable-in"]?.contains("certbridge") ?? false),
                    config["trust-policy"] != "yes"
                else {
                    byName[name] = .some(nil)
                    continue
                }
                byName[name] = RegisteredModule(name: name, path: resolve(module))
            }
        }
        return order.compactMap { byName[$0] ?? nil }
    }

    /// `key: value` lines; `#` starts a comment.
    static func parse(_ text: String) -> [String: String] {
        var config: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard let colon = content.firstIndex(of: ":") else { continue }
            let key = content[..<colon].trimmingSpaces()
            let value = content[content.index(after: colon)...].trimmingSpaces()
            if !key.isEmpty { config[key] = value }
        }
        return config
    }

    static func resolve(_ module: String) -> String {
        if module.hasPrefix("/") { return module }
        for dir in moduleDirectories where access(dir + "/" + module, F_OK) == 0 { return dir + "/" + module }
        return moduleDirectories[0] + "/" + module
    }

    private static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk.prefix(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(
            drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }
                .reversed())
    }
}
