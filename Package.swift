// swift-tools-version:6.2
import PackageDescription

/// The software token is loaded into foreign processes with dlopen: it must carry its own Swift
/// runtime and must never be unloaded (a dlclose of a Swift library breaks the next one loaded).
let softTokenLinkerFlags: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "-z", "-Xlinker", "nodelete"])
]

/// Linux only (p11-kit, pcsc-lite and OpenSSL headers at their Debian paths), so no platforms are
/// claimed.
let package = Package(
    name: "CertBridge",
    products: [
        .executable(name: "certbridge", targets: ["certbridge"]),
        .library(name: "CertStore", targets: ["CertStore"]),
        .library(name: "certbridge-softtoken", type: .dynamic, targets: ["SoftTokenModule"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        // C, from the metal up.
        // Headers only (modules are dlopened); no pkg-config, whose -pthread SwiftPM warns about.
        .systemLibrary(name: "CPKCS11", providers: [.apt(["libp11-kit-dev"])]),
        // libcrypto alone: nothing here speaks TLS, and a libssl linked in costs every start.
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPCSC", providers: [.apt(["libpcsclite-dev"])]),

        // Safe Swift layers.
        .target(name: "PKCS11", dependencies: ["CPKCS11"]),
        // pcsclite's headers include each other by bare name; its pkg-config adds -pthread,
        // which SwiftPM warns about on every build, so the include path is given here instead.
        .target(
            name: "PCSC", dependencies: ["CPCSC"],
            swiftSettings: [.unsafeFlags(["-Xcc", "-I/usr/include/PCSC"])]),
        .target(name: "PKCS12", dependencies: ["COpenSSL"]),
        .target(
            name: "CertStore",
            dependencies: [
                "PKCS11", "PCSC", "PKCS12",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]),

        // The software token: storage and policy, and the C ABI around it.
        .target(name: "CSoftTokenCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "SoftToken", dependencies: ["CPKCS11", "CSoftTokenCrypto"]),
        // Every C_* entry point as an exported symbol, forwarding to the module's function list.
        .target(name: "CSoftTokenExports"),
        .target(
            name: "SoftTokenModule", dependencies: ["SoftToken", "CPKCS11", "CSoftTokenExports"],
            linkerSettings: softTokenLinkerFlags),

        // The CLI: parse, call CertStore, print.
        .executableTarget(
            name: "certbridge",
            dependencies: [
                "CertStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], plugins: ["VersionStamp"]),
        // `certbridge --version`: BuildInfo.swift from VERSION and the git commit, on every build.
        .plugin(name: "VersionStamp", capability: .buildTool()),

        // Signing throughput against a direct C PKCS#11 loop (not a test; run in release).
        .executableTarget(
            name: "certbridge-bench-sign",
            dependencies: [
                "CertStore", "PKCS11", "CPKCS11",
                .product(name: "Crypto", package: "swift-crypto"),
            ], path: "Benchmarks/SignBench"),

        // The software token's own rows (threads, AES-GCM) over the raw C function list.
        .executableTarget(name: "certbridge-bench-token", path: "Benchmarks/TokenBench"),

        // Test rig: real tokens in private temp directories.
        .target(
            name: "TestSupport",
            dependencies: [
                "PKCS11",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ], path: "Tests/TestSupport"),
        .testTarget(name: "PKCS11Tests", dependencies: ["PKCS11", "TestSupport"]),
        .testTarget(name: "PKCS12Tests", dependencies: ["PKCS12", "COpenSSL", "TestSupport"]),
        .testTarget(
            name: "CertStoreTests",
            dependencies: [
                "CertStore", "PKCS11", "TestSupport",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]),
        .testTarget(
            name: "SoftTokenTests", dependencies: ["SoftToken", "PKCS11", "CPKCS11", "TestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(name: "PCSCTests", dependencies: ["PCSC", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "PKCS11"]),
    ],
    swiftLanguageModes: [.v6]
)

// Every warning in our own targets is an error, in every build (the dependencies' warnings are
// theirs: SwiftPM silences them, and a -warnings-as-errors on the command line would reach them).
for target in package.targets where [.regular, .executable, .test].contains(target.type) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
    target.cSettings = (target.cSettings ?? []) + [.treatAllWarnings(as: .error)]
}
