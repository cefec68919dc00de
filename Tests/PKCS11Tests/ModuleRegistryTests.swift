import Foundation
import TestSupport
import Testing

@testable import PKCS11

@Suite("p11-kit module registry")
struct ModuleRegistryTests {
    @Test("reads module configs, later directories override, trust and disabled modules are left out")
    func readsConfigs() throws {
        let system = try TemporaryDirectory()
        let admin = try TemporaryDirectory()
        try system.write("softhsm2.module", "# comment\nmodule: /usr/lib/softhsm/libsofthsm2.so\n")
        try system.write("opensc.module", "module: opensc-pkcs11.so\n")
        try system.write("trust.module", "module: p11-kit-trust.so\ntrust-policy: yes\n")
        try system.write("other.module", "module: /x.so\ndisable-in: certbridge p11-kit-proxy\n")
        try system.write("readme.txt", "module: /not-a-module.so\n")
        try admin.write("opensc.module", "module: /opt/opensc.so\n")
        let modules = ModuleRegistry.registeredModules(configDirectories: [system.path, admin.path])
        #expect(
            modules == [
                RegisteredModule(name: "opensc", path: "/opt/opensc.so"),
                RegisteredModule(name: "softhsm2", path: "/usr/lib/softhsm/libsofthsm2.so"),
            ])
    }

    @Test("finds the modules Debian's packages register")
    func systemModules() {
        let names = ModuleRegistry.registeredModules().map(\.name)
        #expect(names.contains("softhsm2"))
        #expect(names.contains("opensc-pkcs11"))
        #expect(!names.contains("p11-kit-trust"))
    }
}
