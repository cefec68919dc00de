import Foundation
import TestSupport
import Testing

@testable import SoftToken

/// The token's files against another local user: nothing planted in a token directory is written
/// through, and a directory someone else can write to is refused, with the reason, not used.
@Suite("software token: symlinks and directory ownership")
struct FileHardeningTests {
    @Test(
        "a world-writable token directory where user nobody planted symlinks (lock, pins.tmp-*, token.tmp-*) to a root-only file: the token is refused with the reason, and the file is untouched"
    )
    func symlinkRaceAsAnotherUser() throws {
        let store = try PrivateStore()
        try store.initializeToken(label: "hardened")
        let token = try store.tokenDirectory()
        // nobody must reach the token directory: the temporary parents become searchable.
        for path in [store.dir.path, store.path] { chmod(path, 0o711) }
        chmod(token, 0o777)
        let victim = try TemporaryDirectory("certbridge-victim")
        chmod(victim.path, 0o711)
        let target = try victim.write("root-only", "root's secret\n")
        chmod(target, 0o600)

        // The attacker, as another user: a lock symlink and symlinks under the temporary names
        // today's writers would pick (the PIDs nearby), then a read by root.
        let pid = getpid()
        let script = """
            rm -f '\(token)/lock' && ln -s '\(target)' '\(token)/lock' || exit 1
            n=\(pid - 50); while [ $n -le \(pid + 500) ]; do
              ln -sf '\(target)' '\(token)/pins.tmp-'$n && ln -sf '\(target)' '\(token)/token.tmp-'$n || exit 1
              n=$((n + 1))
            done
            """
        let planted = try run(
            "setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script], environment: [:])
        try #require(planted.status == 0, "the attacker could not plant: \(planted.stderr)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: token + "/lock")) == target)

        let listing = try OtherProcess.pkcs11Tool(["-L"], environment: store.environment)
        #expect(listing.stdout.contains("refused: token directory is group- or world-writable"), "\(listing.stdout)")
        let login = try OtherProcess.pkcs11Tool(
            ["--token-label", "hardened", "--login", "--pin", SoftTokenRig.userPIN, "-O"],
            environment: store.environment)
        #expect(login.status != 0, "a session opened on a refused token: \(login.stdout)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "root's secret\n")

        // Made private again, the token opens, and its writes still do not follow the planted lock.
        chmod(token, 0o700)
        let again = try OtherProcess.pkcs11Tool(
            ["--token-label", "hardened", "--login", "--pin", SoftTokenRig.userPIN, "-O"],
            environment: store.environment)
        #expect(again.status != 0, "the token was used through a symlinked lock file")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "root's secret\n")
        unlink(token + "/lock")
        let fixed = try OtherProcess.pkcs11Tool(
            ["--token-label", "hardened", "--login", "--pin", SoftTokenRig.userPIN, "-O"],
            environment: store.environment)
        #expect(fixed.status == 0, "\(fixed.stderr)")
    }

    @Test("the store directory itself group-writable: every token in it is refused, naming the store directory")
    func groupWritableStore() throws {
        let store = try PrivateStore()
        try store.initializeToken(label: "in-open-store")
        chmod(store.path, 0o770)
        let listing = try OtherProcess.pkcs11Tool(["-L"], environment: store.environment)
        #expect(listing.stdout.contains("refused: store directory is group- or world-writable"), "\(listing.stdout)")
    }

    @Test(
        "a write never goes through a symlink planted under a temporary name, and each write picks a new unpredictable name"
    )
    func writesDoNotFollowSymlinks() throws {
        let dir = try TemporaryDirectory()
        let directory = try TokenDirectory.create(path: dir.file("token"))
        let victim = try dir.write("victim", "keep")
        for n in 0..<64 { symlink(victim, dir.file("token/pins.tmp-\(n)")) }
        try directory.write("pins", [1, 2, 3])
        #expect(try directory.read("pins") == [1, 2, 3])
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep")
        symlink(victim, dir.file("token/token"))
        #expect(throws: CKRError.self) { _ = try directory.read("token") }
    }
}
