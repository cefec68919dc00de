import CertStore

/// What the self-tests report: every step, and whether all passed.
protocol SelfTestReport: Encodable {
    var ok: Bool { get }
    var steps: [SigningSelfTest.Step] { get }
}

extension SigningSelfTest: SelfTestReport {}
extension EncryptionSelfTest: SelfTestReport {}

extension StoreCommand {
    /// One step of a self-test (`test-sign`, `enroll verify`, the encryption round trip) as it
    /// runs: ok or FAIL (in colour on a terminal), its name and what it found. Nothing with --json.
    func printStep(_ step: SigningSelfTest.Step) {
        guard !global.json else { return }
        print("  \(step.ok ? Style.paint("ok  ", .green) : Style.paint("FAIL", .red)) \(step.name): \(step.detail)")
    }

    /// The end of a self-test: the report as JSON with --json; when a step failed, an error whose
    /// exit code is the first failure's (a wrong password is 4, a locked PIN 6) and whose
    /// sentence names every failure.
    func finishSelfTest(_ report: some SelfTestReport, command: String) throws(StoreError) {
        if global.json { try printJSON(report) }
        guard report.ok else {
            let failed = report.steps.filter { !$0.ok }
            let code = failed.first?.exitCode.flatMap(StoreError.Code.init(rawValue:)) ?? .failed
            throw StoreError(code, "\(command) failed: " + failed.map(\.detail).joined(separator: "; "))
        }
    }
}
