internal import CPCSC

/// Runs one SCard* call and turns a status other than SCARD_S_SUCCESS into a PCSCError that names
/// the function, so every wrapper reports failures the same way.
@inline(__always)
func scardCall(
    _ function: String, fileID: String = #fileID, line: Int = #line,
    _ call: () -> LONG
) throws(PCSCError) {
    let status = call()
    if status != 0 {
        throw PCSCError(
            code: UInt32(truncatingIfNeeded: status), function: function,
            fileID: fileID, line: line)
    }
}
