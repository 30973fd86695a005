import Dispatch
import Foundation

/// Turns SIGTERM and SIGINT into task cancellation, so children are stopped and staging is removed.
public final class SignalTrap: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var received: Int32?

    /// The first signal received, if any.
    public var signal: Int32? { lock.withLock { received } }

    public init(onSignal: @escaping @Sendable () -> Void) {
        for sig in [SIGTERM, SIGINT] {
            Glibc.signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                self?.lock.withLock { if self?.received == nil { self?.received = sig } }
                onSignal()
            }
            source.resume()
            sources.append(source)
        }
    }

    public var exitStatus: ExitStatus? {
        switch signal {
        case SIGTERM: return .terminated
        case SIGINT: return .interrupted
        default: return nil
        }
    }

    deinit { sources.forEach { $0.cancel() } }
}
