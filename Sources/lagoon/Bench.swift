import ArgumentParser
import Kernels

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "In-process benchmarks (build with -c release).",
        subcommands: [KernelsBench.self, EngineBench.self, IVFBench.self]
    )

    struct KernelsBench: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "kernels", abstract: "Distance and top-k kernels on random data.")
        func run() {
            print(KernelBenchmarks.run())
        }
    }
}
