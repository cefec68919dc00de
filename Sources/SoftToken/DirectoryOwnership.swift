#if canImport(Glibc)
    import Glibc
#endif

extension TokenDirectory {
    /// Why a store or token directory must not be used, or nil when it may: it must be a real
    /// directory (not a symlink), belong to the user running the module, and be writable by
    /// nobody else, or another local user could plant or swap files in it (as OpenSSH refuses
    /// a `~/.ssh` others can write). `what` names the directory in the reason.
    static func refusal(of path: String, what: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        if info.st_mode & S_IFMT == S_IFLNK { return "\(what) is a symlink" }
        guard info.st_mode & S_IFMT == S_IFDIR else { return "\(what) is not a directory" }
        if info.st_uid != geteuid() { return "\(what) belongs to uid \(info.st_uid), not \(geteuid())" }
        if info.st_mode & 0o022 != 0 { return "\(what) is group- or world-writable" }
        return nil
    }

    /// Why this token must be refused: its store root, its own directory or its objects folder
    /// fails `refusal(of:what:)`.
    static func refusal(root: String, token name: String) -> String? {
        refusal(of: root, what: "store directory")
            ?? refusal(of: root + "/" + name, what: "token directory")
            ?? refusal(of: root + "/" + name + "/objects", what: "objects directory")
    }
}
