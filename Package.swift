// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Lagoon",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lagoon", targets: ["lagoon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "CKernels"),
        .target(name: "Kernels", dependencies: ["CKernels"]),
        .target(name: "Store", dependencies: ["CXXHash", "CCurl", "CCrypto", "CSQLite"]),
        .target(name: "Log", dependencies: ["Store"]),
        .target(name: "Segments", dependencies: ["Store", "Log", "Kernels"]),
        .target(name: "Planner", dependencies: ["Log", "Segments"]),
        .target(name: "Exec", dependencies: ["Planner", "Segments", "Kernels", "Log"]),
        .target(name: "HTTP", dependencies: [
            "Exec", "Planner", "Log", "Store", "CZlib",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "lagoon", dependencies: [
            "HTTP", "Exec", "Planner", "Log", "Store", "Kernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "LagoonTestSupport", dependencies: ["Kernels", "Store", "Log", "Segments", "Planner", "Exec"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "LagoonTestSupport"]),
        .testTarget(name: "LogTests", dependencies: ["Log", "Store", "LagoonTestSupport"]),
        .testTarget(name: "SegmentsTests", dependencies: ["Segments", "LagoonTestSupport"]),
        .testTarget(name: "PlannerTests", dependencies: ["Planner", "LagoonTestSupport"]),
        .testTarget(name: "ExecTests", dependencies: ["Exec", "Planner", "Segments", "LagoonTestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: [
            "HTTP", "LagoonTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
    ]
)

// One settings loop: strict language features for every target.
for target in package.targets where target.type != .system && target.name != "CKernels" {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
