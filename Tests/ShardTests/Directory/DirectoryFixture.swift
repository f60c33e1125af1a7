import Shard
import Testing

/// Builders for the session directory's tests: views from lists of member states, copies with
/// sensible defaults, times in milliseconds.
enum DirFix {
    typealias State = DirectoryView.MemberState

    static func t(_ milliseconds: UInt64) -> ReplicationTime { .milliseconds(milliseconds) }
    static func d(_ milliseconds: UInt64) -> ReplicationDuration { .milliseconds(milliseconds) }

    /// A view as the shell builds it: the placement ring over alive and suspect members, the
    /// holder ring over every member not left, each dead member dead since `deadSince`.
    static func view(
        _ members: [(String, State)],
        me: String = "a",
        draining: Set<String> = [],
        deadSince: ReplicationTime = .zero,
        joined: Bool = true
    ) -> DirectoryView {
        let placed = members.filter { $0.1 == .alive || $0.1 == .suspect }.map { ShardNode(id: $0.0) }
        let holders = members.filter { $0.1 != .left }.map { ShardNode(id: $0.0) }
        let dead = members.filter { $0.1 == .dead }.map { ($0.0, deadSince) }
        return DirectoryView(
            selfID: me,
            members: Dictionary(uniqueKeysWithValues: members),
            draining: draining,
            ring: try! HashRing(nodes: placed),
            holderRing: try! HashRing(nodes: holders),
            deadSince: Dictionary(uniqueKeysWithValues: dead),
            joined: joined
        )
    }

    /// Every id alive.
    static func alive(_ ids: [String]) -> [(String, State)] { ids.map { ($0, .alive) } }

    static let five = ["a", "b", "c", "d", "e"]

    /// A copy; by default a live replica of `s1` (group `g1`) led by `b`, members a, b, c.
    static func copy(
        _ session: String = "s1",
        group: String = "g1",
        phase: CopyPhase = .live,
        role: ReplicaRole = .replica,
        epoch: UInt64 = 1,
        primary: String? = "b",
        members: [String] = ["a", "b", "c"],
        learners: [String] = [],
        lag: [String: UInt64] = [:],
        stalled: [String] = [],
        last: UInt64 = 0,
        commit: UInt64 = 0
    ) -> DirectoryCopy {
        DirectoryCopy(
            group: group,
            session: session,
            phase: phase,
            role: role,
            epoch: epoch,
            primary: primary,
            members: members,
            learners: learners,
            lag: lag,
            stalledLearners: stalled,
            lastSeq: last,
            commitSeq: commit
        )
    }

    /// A copy this node (`a`) leads; every other member's lag 0 unless given.
    static func primary(
        _ session: String = "s1",
        group: String = "g1",
        phase: CopyPhase = .live,
        epoch: UInt64 = 1,
        members: [String] = ["a", "b", "c"],
        learners: [String] = [],
        lag: [String: UInt64]? = nil,
        stalled: [String] = [],
        last: UInt64 = 0,
        commit: UInt64 = 0
    ) -> DirectoryCopy {
        copy(
            session,
            group: group,
            phase: phase,
            role: .primary,
            epoch: epoch,
            primary: "a",
            members: members,
            learners: learners,
            lag: lag ?? Dictionary(uniqueKeysWithValues: members.filter { $0 != "a" }.map { ($0, 0) }),
            stalled: stalled,
            last: last,
            commit: commit
        )
    }

    /// A directory of node `a` at time 0 (next maintenance at 500 ms), told `view` if given.
    static func directory(
        _ view: DirectoryView? = nil,
        settings: DirectorySettings = DirectorySettings(),
        now: ReplicationTime = .zero
    ) -> SessionDirectory {
        var directory = SessionDirectory(me: "a", settings: settings, now: now)
        if let view { _ = directory.viewChanged(view, now: now) }
        return directory
    }

    /// Settings whose maintenance round is an hour away, so the other timers show alone.
    static var quietMaintenance: DirectorySettings {
        var settings = DirectorySettings()
        settings.maintenanceInterval = .milliseconds(3_600_000)
        return settings
    }

    static let groups = (0..<200).map { "g\($0)" }
}

extension Array where Element == DirectoryDirective {
    /// The directives other than `.scheduleTick`.
    var withoutTicks: [DirectoryDirective] {
        filter {
            if case .scheduleTick = $0 { return false }
            return true
        }
    }

    /// The times of the `.scheduleTick`s.
    var ticks: [ReplicationTime] {
        compactMap {
            if case .scheduleTick(let at) = $0 { return at }
            return nil
        }
    }

    /// The sessions told to `.end`.
    var ends: [String] {
        compactMap {
            if case .end(let session) = $0 { return session }
            return nil
        }
    }

    /// The sessions told to `.settle`.
    var settles: [String] {
        compactMap {
            if case .settle(let session) = $0 { return session }
            return nil
        }
    }

    /// The sessions told to `.campaign`.
    var campaigns: [String] {
        compactMap {
            if case .campaign(let session) = $0 { return session }
            return nil
        }
    }
}
