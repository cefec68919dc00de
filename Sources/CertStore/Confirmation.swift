import FoundationEssentials
import Glibc

/// A yes/no asked of the person on the controlling terminal: the approval of one use of a
/// Medium-level key where the token does not ask itself.
public enum Confirmation {
    /// Asks `question` on /dev/tty; true only for an answer starting with y or Y. No terminal is
    /// a usage error: a Medium key needs a person for every use.
    public static func ask(_ question: String) throws(StoreError) -> Bool {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StoreError(
                .usage, "a Medium-level key needs a yes from a person at every use, and there is no terminal to ask on")
        }
        defer { close(fd) }
        _ = (question + " [y/N] ").withCString { write(fd, $0, strlen($0)) }
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1, byte != 0x0A { answer.append(byte) }
        return answer.first == UInt8(ascii: "y") || answer.first == UInt8(ascii: "Y")
    }
}
