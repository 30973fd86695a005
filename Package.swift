// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pgbak",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pgbak", targets: ["pgbak"]),
        .library(name: "PgbakKit", targets: ["PgbakKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(name: "CChecksum"),
        .target(name: "CWriteback"),
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(
            name: "PgbakKit",
            dependencies: [
                "CLibPQ",
                "CZstd",
                "CChecksum",
                "CWriteback",
                "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "pgbak",
            dependencies: [
                "PgbakKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PgbakKitTests", dependencies: ["PgbakKit"]),
        .testTarget(name: "IntegrationTests", dependencies: ["PgbakKit"]),
    ],
    swiftLanguageModes: [.v6]
)
