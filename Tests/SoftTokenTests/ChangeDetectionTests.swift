import Foundation
import TestSupport
import Testing

@testable import SoftToken

/// How a process notices that another one changed the token: the directory's stamp. File times
/// come from a coarse clock on kernels before 6.13 (this machine's kernel has fine-grained ones,
/// so the miss itself cannot be shown here), and two changes within one tick look alike (a file
/// replaced twice can even get its old inode back); a stamp that young must never match a later
/// one. A login reads the PIN counters again only when the stamp changed, so this covers `pins`
/// and `token` as well as `objects/`.
@Suite("software token: noticing other processes' changes")
struct ChangeDetectionTests {
    @Test(
        "a stamp taken right after a change to objects/, pins or token matches no later stamp; once the change is two ticks old, stamps are stable"
    )
    func racyStampsNeverMatch() throws {
        let dir = try TemporaryDirectory()
        let directory = try TokenDirectory.create(path: dir.file("token"))
        try directory.write("token", [1])
        #expect(directory.stamp() != directory.stamp(), "a token file written in this tick")
        usleep(30_000)
        try directory.write("pins", [0])
        #expect(directory.stamp() != directory.stamp(), "PIN counters written in this tick")
        usleep(30_000)
        #expect(directory.stamp() == directory.stamp(), "old changes make every look read the token again")
        try directory.write("objects/1", [2])
        let early = directory.stamp()
        #expect(directory.stamp() != early, "a change in this clock tick would go unseen")
        usleep(30_000)
        let settled = directory.stamp()
        #expect(directory.stamp() == settled, "an old change makes every look re-read the token")
        try directory.write("objects/2", [3])
        #expect(directory.stamp() != settled)
    }
}
