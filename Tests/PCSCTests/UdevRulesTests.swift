import Foundation
import TestSupport
import Testing

/// udev/70-certbridge.rules parses with the machine's own udev.
@Suite("udev rules")
struct UdevRulesTests {
    static let rules = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("udev/70-certbridge.rules")

    static var hasUdevadm: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/udevadm")
            || FileManager.default.isExecutableFile(atPath: "/bin/udevadm")
    }

    @Test("the rules grant uaccess to CCID readers and the named HSM tokens")
    func content() throws {
        let text = try String(contentsOf: Self.rules, encoding: .utf8)
        #expect(text.contains(#"ENV{ID_USB_INTERFACES}=="*:0b????:*""#))
        for vendor in ["1050", "20a0", "0529", "096e"] {
            #expect(text.contains(#"ATTR{idVendor}=="\#(vendor)""#), "\(vendor)")
        }
        let ruleLines = text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(ruleLines.filter { $0.contains(#"TAG+="uaccess""#) }.count == 5)
    }

    @Test(
        "udevadm reads the rules without an error",
        .enabled(if: hasUdevadm && getuid() == 0, "needs udevadm (package udev) and root"))
    func parses() async throws {
        // systemd 254+ has `udevadm verify`; Debian 12's udev 252 does not. There, `udevadm test`
        // parses every rules file and names bad lines ("FILE:LINE Invalid key …"); it runs in a
        // private mount namespace where /etc/udev/rules.d holds only this file, so the machine's
        // own rules are not touched.
        let verify = try await CardRig.runProcess("udevadm", ["verify", "--help"])
        if verify.status == 0 {
            let result = try await CardRig.runProcess("udevadm", ["verify", Self.rules.path])
            #expect(result.status == 0, "\(result.combined)")
            return
        }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("certbridge-udev-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            at: Self.rules,
            to: directory.appendingPathComponent("70-certbridge.rules"))
        let installed = "/etc/udev/rules.d/70-certbridge.rules"
        let result = try await CardRig.runProcess(
            "unshare",
            [
                "--mount", "--propagation", "private", "sh", "-c",
                "mkdir -p /etc/udev/rules.d && mount --bind \"$1\" /etc/udev/rules.d "
                    + "&& exec udevadm test --action=add /sys/class/net/lo", "sh", directory.path,
            ])
        #expect(result.combined.contains("Reading rules file: \(installed)"), "\(result.combined)")
        let complaints = result.combined.split(separator: "\n")
            .filter { $0.hasPrefix(installed + ":") }
        #expect(complaints.isEmpty, "\(complaints)")
    }
}
