import Foundation

/// `p11-kit server` exporting one token on a unix socket in a private temporary directory, run
/// in the foreground as a child of the test process and stopped (socket directory removed) when
/// the value goes away: the remoting setup a signing host offers its build machines.
public final class P11KitServer: @unchecked Sendable {
    /// `P11_KIT_SERVER_ADDRESS` for the client module, e.g. `unix:path=/tmp/…/socket`.
    public private(set) var address = ""
    private let process: Process
    private let dir: TemporaryDirectory

    /// p11-kit's RPC client module, the one `--module` names on the client side.
    public static var clientModulePath: String {
        get throws {
            for dir in [
                "/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib/aarch64-linux-gnu/pkcs11", "/usr/lib64/pkcs11",
                "/usr/lib/pkcs11",
            ] {
                let path = dir + "/p11-kit-client.so"
                if FileManager.default.fileExists(atPath: path) { return path }
            }
            throw TestSupportError("p11-kit-client.so is not installed (run scripts/install-deps)")
        }
    }

    /// Starts `p11-kit server -f --provider MODULE "pkcs11:token=LABEL"` with `environment` (what
    /// the provider needs, e.g. SOFTHSM2_CONF) and waits until it announces its address.
    public init(provider: String, tokenLabel: String, environment: [String: String] = [:]) throws {
        dir = try TemporaryDirectory("certbridge-p11kit")
        let socket = dir.file("socket")
        let announced = dir.file("announced")
        guard FileManager.default.createFile(atPath: announced, contents: nil) else {
            throw TestSupportError("cannot write in \(dir.path)")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: try which("p11-kit"))
        process.arguments = ["server", "-f", "--provider", provider, "-n", socket, "pkcs11:token=\(tokenLabel)"]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        env.removeValue(forKey: "P11_KIT_SERVER_ADDRESS")
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: announced))
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()

        // It prints `P11_KIT_SERVER_ADDRESS=unix:path=…; export …` once the socket listens.
        let deadline = Date().addingTimeInterval(15)
        while true {
            let text = (try? String(contentsOfFile: announced, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("P11_KIT_SERVER_ADDRESS=") }),
                FileManager.default.fileExists(atPath: socket)
            {
                let value = line.dropFirst("P11_KIT_SERVER_ADDRESS=".count).prefix { $0 != ";" }
                address = String(value)
                return
            }
            guard process.isRunning, Date() < deadline else {
                stopProcess()
                throw TestSupportError("p11-kit server did not start for token \(tokenLabel) of \(provider): \(text)")
            }
            usleep(20_000)
        }
    }

    /// What a client process needs in its environment to reach the served token.
    public var environment: [String: String] { ["P11_KIT_SERVER_ADDRESS": address] }

    /// Whether the server is still running (it must be, until it is stopped).
    public var isRunning: Bool { process.isRunning }

    /// The server's process id, to check that nothing is left behind.
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Stops the server and waits for it; the socket directory goes with the value.
    public func stop() { stopProcess() }

    private func stopProcess() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stopProcess() }
}
