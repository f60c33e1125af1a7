/// One finished HLS media segment.
public struct HLSSegment: Sendable, Equatable {
    /// Media sequence number, counting from 0 for the session.
    public var sequence: Int
    /// Seconds, from the PTS of its first keyframe to the next segment's (or the stream's end).
    public var duration: Double
    /// PAT + PMT, then whole packets from a keyframe on, so the segment decodes alone.
    public var bytes: [UInt8]

    public init(sequence: Int, duration: Double, bytes: [UInt8]) {
        self.sequence = sequence
        self.duration = duration
        self.bytes = bytes
    }
}

/// Cuts the chunk stream into HLS segments at keyframes and keeps the live window.
public struct HLSSegmenter: Sendable {
    /// Keyframes less than this far (1 ms) short of the target still cut: encoders place
    /// keyframes on frame boundaries, which rarely land exactly on the target.
    static let tolerance = 0.001

    public let targetDuration: Double
    public let windowSize: Int
    /// An open segment past this size (a stream without keyframes) is discarded, not grown.
    public let maxSegmentBytes: Int
    /// The newest `windowSize` segments, oldest first.
    public private(set) var window: [HLSSegment] = []
    /// Sequence number of the next segment to be completed.
    public private(set) var nextSequence = 0
    /// Seconds of every segment completed so far: where the open one starts on the timeline a
    /// recording of them all plays (the replay).
    public private(set) var completedDuration: Double = 0

    private var open: [UInt8] = []
    private var isOpen = false
    private var startPTS: UInt64?
    private var latestPTS: UInt64?

    public init(targetDuration: Double = 2.0, windowSize: Int = 6, maxSegmentBytes: Int = 64 << 20) {
        self.targetDuration = targetDuration
        self.windowSize = max(1, windowSize)
        self.maxSegmentBytes = maxSegmentBytes
    }

    /// `#EXT-X-MEDIA-SEQUENCE`: the sequence number of the window's first segment.
    public var mediaSequence: Int { window.first?.sequence ?? nextSequence }

    /// Adds a chunk; returns the segments it completed (at most one). Chunks before the first
    /// keyframe are dropped, as no segment could decode them.
    public mutating func append(_ chunk: MediaChunk, programInfo: [UInt8]?) -> [HLSSegment] {
        var completed: [HLSSegment] = []
        if chunk.keyframe, let pts = chunk.pts {
            if isOpen, let start = startPTS {
                let elapsed = MediaClock.seconds(from: start, to: pts)
                if elapsed < 0 || elapsed > max(60, 10 * targetDuration) {
                    // A timestamp jump (a restarted encoder): close what we have at its own length.
                    completed.append(close(duration: span(to: latestPTS)))
                } else if elapsed >= targetDuration - Self.tolerance {
                    completed.append(close(duration: elapsed))
                }
            }
            if !isOpen {
                open = programInfo ?? []
                isOpen = true
                startPTS = pts
                latestPTS = pts
            }
        } else if !isOpen {
            return []
        }
        open.append(contentsOf: chunk.bytes)
        if let pts = chunk.pts, latestPTS.map({ MediaClock.delta(from: $0, to: pts) > 0 }) ?? true {
            latestPTS = pts
        }
        if open.count > maxSegmentBytes {
            isOpen = false
            open = []
        }
        return completed
    }

    /// Closes the open segment at the end of the stream. `lastPTS` is where presentation ends
    /// (e.g. `TSDemuxer.endPTS`); without it the latest chunk PTS seen is used.
    public mutating func finish(lastPTS: UInt64?) -> HLSSegment? {
        guard isOpen else { return nil }
        let end = lastPTS ?? latestPTS
        return close(duration: span(to: end))
    }

    /// Where the stream is now on that timeline, in seconds: nil before its first keyframe.
    public var timeline: Double? {
        guard isOpen || nextSequence > 0 else { return nil }
        return completedDuration + (isOpen ? span(to: latestPTS) : 0)
    }

    /// Seconds from the open segment's start to `end`, or 0 when that is not meaningful.
    private func span(to end: UInt64?) -> Double {
        guard let start = startPTS, let end else { return 0 }
        let seconds = MediaClock.seconds(from: start, to: end)
        return seconds > 0 && seconds <= max(60, 10 * targetDuration) ? seconds : 0
    }

    private mutating func close(duration: Double) -> HLSSegment {
        let segment = HLSSegment(sequence: nextSequence, duration: duration, bytes: open)
        nextSequence += 1
        completedDuration += duration
        window.append(segment)
        if window.count > windowSize { window.removeFirst(window.count - windowSize) }
        open = []
        isOpen = false
        startPTS = nil
        latestPTS = nil
        return segment
    }
}
