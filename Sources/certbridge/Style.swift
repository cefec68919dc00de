import FoundationEssentials
import Glibc

/// Colour for verdicts and warnings, and only for a person: on a terminal, never into a pipe or
/// a file, and never when `NO_COLOR` is set to anything (https://no-color.org). `TERM=dumb`
/// gets none either.
enum Style {
    enum Colour: String {
        case green = "32"
        case yellow = "33"
        case red = "31"
    }

    /// Whether text written to this descriptor may carry colour.
    static func colours(_ fd: Int32) -> Bool {
        let environment = ProcessInfo.processInfo.environment
        if environment["NO_COLOR"] != nil { return false }
        if environment["TERM"] == "dumb" { return false }
        return isatty(fd) == 1
    }

    /// `text` in a colour when `fd` is a terminal that may have one; the text unchanged otherwise.
    static func paint(_ text: String, _ colour: Colour, fd: Int32 = STDOUT_FILENO) -> String {
        colours(fd) ? "\u{1b}[\(colour.rawValue)m\(text)\u{1b}[0m" : text
    }
}
