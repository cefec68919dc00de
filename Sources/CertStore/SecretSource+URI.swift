/// The `pin-source` query attribute of a PKCS#11 URI (RFC 7512 §2.4), as a secret source.
extension SecretSource {
    /// Parses a URI's `pin-source`: the forms `--pin-source` takes (`tty`, `file:PATH`,
    /// `env:NAME`, `fd:N`) and RFC 7512's file URIs (`file:/path`, `file:///path`,
    /// `file://localhost/path`). RFC 7512's `|program` form is refused: a URI must not start a
    /// program.
    public init(uriPINSource text: String) throws(StoreError) {
        if text.hasPrefix("|") {
            throw StoreError(
                .usage,
                "a pin-source of the form |PROGRAM is refused (a URI does not start programs); use file:PATH, env:NAME or fd:N"
            )
        }
        if text.hasPrefix("file://") {
            var rest = text.dropFirst("file://".count)
            if rest.hasPrefix("localhost/") { rest = rest.dropFirst("localhost".count) }
            guard rest.hasPrefix("/") else {
                throw StoreError(
                    .usage, "the pin-source file URI names another host; only local files (file:///PATH) are read")
            }
            self = .file(String(rest))
            return
        }
        try self.init(text)
    }
}
