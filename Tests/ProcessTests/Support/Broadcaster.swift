import Foundation

/// A broadcaster app: keeps ffmpeg pushing to an ingest URL, connecting again whenever the push
/// ends before it is stopped (a refused or broken ingest), as encoders' reconnect loops do.
final class Broadcaster: @unchecked Sendable {
    let url: String
    private let lock = NSLock()
    private var current: BackgroundTool?
    private var stopping = false
    private var ends: [String] = []

    init(url: String) { self.url = url }

    func start() {
        Task {
            while true {
                let push: BackgroundTool
                do {
                    push = try FFmpeg.startPush(to: url, seconds: 120)
                } catch {
                    lock.withLock { ends.append("\(error)") }
                    return
                }
                let taken = lock.withLock { () -> Bool in
                    if stopping { return false }
                    current = push
                    return true
                }
                guard taken else {
                    push.stop()
                    return
                }
                let status = try? await push.waitExit(timeout: 120)
                guard !lock.withLock({ stopping }) else { return }
                lock.withLock { ends.append("exit \(status.map(String.init) ?? "?"): \(push.errors)") }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// How the pushes that ended early ended (exit status and ffmpeg's errors).
    var earlyEnds: [String] { lock.withLock { ends } }
    /// Whether a push is running now.
    var isPushing: Bool { lock.withLock { current?.isRunning ?? false } }

    /// Stops pushing (the reconnect loop ends with the push it was waiting on).
    func stop() {
        lock.withLock { () -> BackgroundTool? in
            stopping = true
            return current
        }?.stop()
    }
}
