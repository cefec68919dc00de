import PKCS11
import TestSupport
import Testing

@testable import CertStore

/// A command's URI that names a module (module-name, module-path) leaves the other registered
/// modules unloaded: each costs its dlopen and C_Initialize at every start.
@Suite("lazy module loading")
struct LazyModuleLoadingTests {
    @Test("module-path and module-name rule modules out by path, as token lookup does")
    func filter() throws {
        let softhsm = "/usr/lib/softhsm/libsofthsm2.so"
        #expect(Store.module(at: softhsm, matches: try PKCS11URI("pkcs11:token=x")))
        #expect(Store.module(at: softhsm, matches: try PKCS11URI("pkcs11:token=x?module-name=softhsm2")))
        #expect(
            !Store.module(
                at: "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", matches: try PKCS11URI("pkcs11:?module-name=softhsm2")
            ))
        #expect(Store.module(at: softhsm, matches: try PKCS11URI("pkcs11:?module-path=libsofthsm2.so")))
        #expect(!Store.module(at: softhsm, matches: try PKCS11URI("pkcs11:?module-path=/usr/lib/other.so")))
    }

    @Test("a URI naming a registered module loads that module alone; one naming none loads them all")
    func registered() throws {
        // The registered modules are loaded in this process, where the test rigs' SoftHSM2 and
        // software token then live too: their directories are set before either is first loaded
        // (a module initialised first with the system's configuration keeps it, and every later
        // test's tokens landed where their CLI children did not look).
        _ = try SoftHSM.environment()
        _ = try SoftTokenRig.environment()
        let registered = ModuleRegistry.registeredModules()
        guard let softhsm = registered.first(where: { $0.path.hasSuffix("libsofthsm2.so") }), registered.count > 1
        else {
            // The Debian packages register SoftHSM2 and OpenSC; without both there is nothing to rule out.
            return
        }
        let only = try Store(for: try PKCS11URI("pkcs11:token=x?module-name=softhsm2"))
        #expect(only.modules.map(\.path) == [softhsm.path])
        let all = try Store()
        let unknown = try Store(for: try PKCS11URI("pkcs11:?module-name=no-such-module"))
        #expect(unknown.modules.count == all.modules.count)
    }
}
