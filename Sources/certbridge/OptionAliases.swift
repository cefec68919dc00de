/// Option spellings of earlier releases, still accepted but no longer shown: every command now
/// writes its output with `-o/--out FILE` and takes extra CA certificates with `--chain-file`.
/// ArgumentParser cannot hide one name of an option, so the old names are rewritten to the new
/// ones before parsing.
enum OptionAliases {
    /// (command path, old spelling, new spelling).
    static let table: [(command: [String], old: String, new: String)] = [
        (["export"], "--output", "--out"),
        (["enroll", "new"], "--output", "--out"),
        (["enroll", "backup"], "--output", "--out"),
        (["install-cert"], "--chain", "--chain-file"),
    ]

    /// `arguments` (without the program name) with old spellings replaced, up to a `--`.
    static func rewrite(_ arguments: [String]) -> [String] {
        let aliases = table.filter { Array(arguments.prefix($0.command.count)) == $0.command }
        guard !aliases.isEmpty else { return arguments }
        var out: [String] = []
        var ended = false
        for argument in arguments {
            if argument == "--" { ended = true }
            guard !ended, let alias = aliases.first(where: { argument == $0.old || argument.hasPrefix($0.old + "=") })
            else {
                out.append(argument)
                continue
            }
            out.append(alias.new + argument.dropFirst(alias.old.count))
        }
        return out
    }
}
