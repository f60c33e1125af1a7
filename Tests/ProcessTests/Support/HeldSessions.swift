import Foundation

/// One live session as `/admin/v1/sessions` on a node lists it: `lastSeq` is the last event seq
/// in the node's log, `committedSeq` the last one it shows viewers (event seqs, as `GET …/live`).
struct HeldSession: Decodable, Equatable, CustomStringConvertible {
    var group: String
    var session: String
    var role: String
    var epoch: UInt64
    var primary: String?
    var members: [String]
    var lastSeq: UInt64
    var committedSeq: UInt64
    var lagSeq: UInt64
    /// Replication-log positions (config entries and likes records take log seqs too).
    var logLastSeq: UInt64
    var logCommitSeq: UInt64
    var ended: Bool
    /// Streams this copy serves; the relays it feeds; on a relay (`role` "relay") its upstream.
    var viewers: Int?
    var relays: [String]?
    var upstream: String?

    var isFullyCommitted: Bool { logCommitSeq == logLastSeq }

    var description: String {
        "\(role) epoch \(epoch) primary \(primary ?? "-") members \(members) ended \(ended) "
            + "log \(logCommitSeq)/\(logLastSeq) events \(committedSeq)/\(lastSeq)"
    }
}

extension LocalCluster {
    /// The sessions node `id` holds (`GET /admin/v1/sessions`).
    func sessions(on id: String) throws -> [HeldSession] {
        let answer = try adminGet(id, "/admin/v1/sessions")
        guard answer.status == 200 else { throw AdminFailed(status: answer.status, body: answer.body) }
        return try JSONDecoder().decode([HeldSession].self, from: Data(answer.body.utf8))
    }

    /// Node `id`'s copy of `session`, if it holds one.
    func held(_ session: String, on id: String) throws -> HeldSession? {
        try sessions(on: id).first { $0.session == session }
    }

    /// Every node of `among` holding a copy of `session`, with its copy (unreachable nodes are
    /// left out).
    func holders(of session: String, among ids: [String]) -> [String: HeldSession] {
        var out: [String: HeldSession] = [:]
        for id in ids {
            if let copy = try? held(session, on: id) { out[id] = copy }
        }
        return out
    }

    /// The node of `among` that lists itself primary of `session` at the highest epoch, if any.
    func primary(of session: String, among ids: [String]) -> (node: String, copy: HeldSession)? {
        holders(of: session, among: ids).filter { $0.value.role == "primary" }.max { $0.value.epoch < $1.value.epoch }
            .map { ($0.key, $0.value) }
    }

    /// Waits until a node of `among` lists itself primary of `session` at an epoch above `epoch`;
    /// returns that node and its copy.
    func waitForPrimary(
        of session: String,
        among ids: [String],
        above epoch: UInt64,
        timeout: Double
    ) async throws -> (node: String, copy: HeldSession) {
        var found: (String, HeldSession)?
        do {
            try await waitUntil("a node of \(ids) to be primary of \(session) above epoch \(epoch)", timeout: timeout) {
                found = self.holders(of: session, among: ids).first {
                    $0.value.role == "primary" && $0.value.epoch > epoch
                }
                .map { ($0.key, $0.value) }
                return found != nil
            }
        } catch {
            throw ClusterStateError(what: "\(error)", cluster: self, ids: ids, session: session)
        }
        return found!
    }

    /// Waits until the nodes of `among` holding `session` are exactly the `replicas` members its
    /// primary lists, and all hold the same log, fully committed, in one epoch; returns the
    /// primary and the members.
    func waitForConvergence(
        of session: String,
        among ids: [String],
        replicas: Int,
        timeout: Double
    ) async throws -> (primary: String, members: [String]) {
        var result: (String, [String])?
        do {
            try await waitUntil("\(replicas) replicas of \(session) to hold the same committed log", timeout: timeout) {
                let copies = self.holders(of: session, among: ids)
                guard let (node, primary) = copies.first(where: { $0.value.role == "primary" }),
                    primary.members.allSatisfy({ copies[$0] != nil })
                else { return false }
                guard primary.members.count == replicas, Set(copies.keys) == Set(primary.members) else {
                    return false
                }
                let members = primary.members.map { copies[$0]! }
                let converged = members.allSatisfy {
                    $0.lastSeq == primary.lastSeq && $0.committedSeq == primary.lastSeq && $0.epoch == primary.epoch
                }
                if converged { result = (node, primary.members) }
                return converged
            }
        } catch {
            throw ClusterStateError(what: "\(error)", cluster: self, ids: ids, session: session)
        }
        return result!
    }
}

/// A wait on the cluster's sessions failed: says what each node listed.
struct ClusterStateError: Error, CustomStringConvertible {
    var description: String

    /// `what` went wrong; says what each of `ids` lists for `session` (or for every session).
    init(what: String, cluster: LocalCluster, ids: [String], session: String?) {
        let copies = ids.map { id in
            if let copy = try? cluster.sessions(on: id).first(where: { session == nil || $0.session == session }) {
                return "  \(id): \(copy.role) epoch \(copy.epoch) primary \(copy.primary ?? "-") members "
                    + "\(copy.members) lastSeq \(copy.lastSeq) committedSeq \(copy.committedSeq)"
            }
            return "  \(id): no copy (or unreachable)"
        }
        description = "\(what)\n/admin/v1/sessions:\n\(copies.joined(separator: "\n"))\n\(cluster.logs())"
    }
}
