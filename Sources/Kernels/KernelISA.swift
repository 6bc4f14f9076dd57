internal import CKernels

/// The instruction set a kernel runs on. The baseline loops are Swift (SSE2 on x86-64); the
/// AVX2 ones are C (module CKernels) and run only where the CPU has AVX2 and FMA.
public enum KernelISA: Sendable, CaseIterable {
    case baseline
    case avx2

    /// The widest set this CPU runs (checked once).
    public static let best: KernelISA = lagoon_kernels_have_avx2() != 0 ? .avx2 : .baseline

    /// Every set this CPU runs (tests compare each with a scalar reference).
    public static var available: [KernelISA] { best == .avx2 ? [.baseline, .avx2] : [.baseline] }
}
