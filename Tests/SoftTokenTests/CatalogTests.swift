import Foundation
import TestSupport
import Testing

/// The catalog answers searches: a fresh process finds objects by class, label and id, private
/// ones included, without opening a single object file; only using an object reads its file.
/// Watched with strace on the real driver process.
@Suite("software token: searches answered from the catalog")
struct CatalogTests {
    /// The object files a driver run opens (strace's openat calls under objects/).
    static func objectFilesOpened(_ arguments: [String], label: String, store: PrivateStore) throws -> (Int, RunResult)
    {
        let trace = store.dir.file("trace-\(UInt32.random(in: 0...UInt32.max))")
        var env = store.environment
        env["CB_DRIVER_PIN"] = SoftTokenRig.userPIN
        let result = try run(
            "strace",
            ["-f", "-qq", "-e", "trace=openat", "-o", trace, try OtherProcess.driver(), SoftTokenRig.modulePath, label]
                + arguments, environment: env)
        let lines = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        let opened = lines.split(separator: "\n").filter {
            // Relative to the token directory (openat on its descriptor) or by the whole path.
            $0.range(of: #"[/"]objects(-[0-9]+)?/[0-9a-f]+""#, options: .regularExpression) != nil
        }
        return (opened.count, result)
    }

    @Test(
        "a fresh process logs in and runs 400 finds by class+label and class+id over 300 objects (half private) without opening an object file; listing values opens them"
    )
    func findsReadNoObjectFile() throws {
        let (store, label) = try PrivateStore.withToken("catalog")
        let made = try OtherProcess.runDriver(
            ["populate", "p", "300"], token: label, pin: SoftTokenRig.userPIN, environment: store.environment)
        try #require(made.status == 0, "\(made.stderr)")

        let (searching, timings) = try Self.objectFilesOpened(["timings", "p", "300"], label: label, store: store)
        try #require(timings.status == 0, "\(timings.stderr)")
        #expect(timings.stdout.contains("first_found=1 "), "\(timings.stdout)")
        #expect(
            timings.stdout.contains("found_by_id=200 "),
            "every find by class+id finds its one object: \(timings.stdout)")
        #expect(searching == 0, "finds opened \(searching) object files")

        // The control: reading the objects' values opens their files.
        let (listing, list) = try Self.objectFilesOpened(["list"], label: label, store: store)
        try #require(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.split(separator: "\n").count == 300)
        #expect(listing >= 300, "listing 300 values opened \(listing) object files")
    }

    @Test(
        "a process that logs in again and again (after C_Logout, or after closing its last session as p11tool does) finds its objects without opening an object file",
        arguments: ["logout", "close"])
    func reloginsReadNoObjectFile(how: String) throws {
        let (store, label) = try PrivateStore.withToken("relogin")
        let made = try OtherProcess.runDriver(
            ["populate", "p", "300"], token: label, pin: SoftTokenRig.userPIN, environment: store.environment)
        try #require(made.status == 0, "\(made.stderr)")
        let (opened, result) = try Self.objectFilesOpened(["relogin", "p", "300", how], label: label, store: store)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("found=20 of 20"), "\(result.stdout)")
        #expect(opened == 0, "20 logins opened \(opened) object files")
    }
}
