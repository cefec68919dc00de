/// One card rig per test process: the rig's socket path is fixed per process (libpcsclite reads
/// it once), and the card has one reader. Tests that start a rig queue here.
actor CardRigGate {
    static let shared = CardRigGate()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()  // hand over without unlocking
        }
    }
}
