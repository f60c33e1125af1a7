import Foundation
import Testing

/// Red packets (issue 15, docs/API.md "Group-live features") on real node processes: a grab
/// storm through a kill -9 of the primary, bad input through a forwarding node, expiry by TTL
/// and at the end of the live.
@Suite("Red packets on real processes", .serialized)
struct RedPacketTests {
    static let nodeFlags = ["--replicas", "3"]

    @Test(
        "200 users grab a 50-share packet through random nodes while the primary is killed: 50 winners, the exact total, one amount per user, the same 50 grabs in every replica's log"
    )
    func grabStormThroughFailover() async throws {
        // No broadcaster here: a new primary counts the ingest grace from its election and would
        // end the live 30 s after the failover, which a slow failover on starved cores reaches
        // while users still retry (they then get 503s until their deadline, not their answer).
        try await LocalCluster.with(size: 5, nodeFlags: Self.nodeFlags + ["--ingest-grace", "10m"]) { cluster in
            let ids = cluster.ids()
            // u0…u199 grab, u200 sends.
            let users = try await GroupUsers.mint(for: cluster, group: "storm", memberCount: 201)
            let grabbers = (0..<200).map { "u\($0)" }
            let started = try await ReplicationTests.startSession(cluster, users, at: "n1", title: "storm")
            let total: Int64 = 5_000
            let shares = 50

            // Sent through a node that is not the primary: the split is decided there anyway.
            let sendNode = try #require(ids.first { $0 != started.primary })
            let sent = try await RedPackets.call(
                cluster,
                users,
                at: sendNode,
                "POST",
                "/live/redpackets",
                as: "u200",
                json: #"{"id":"storm","total":\#(total),"currency":"CNY","shares":\#(shares)}"#
            )
            try #require(sent.status == 201, "send at \(sendNode): \(sent.status) \(sent.body)")
            let packetSeq = try #require((LiveFixture.object(sent.body)["seq"] as? NSNumber)?.uint64Value)

            // The crowd comes in over two seconds (a user every 10 ms), every user its own client
            // asking through a random node, the victim included (its refused connections are
            // retried elsewhere). The primary dies once a few grabs are in: most shares are
            // still to take, and grabs are in flight at the primary when it dies.
            let storm = GrabStorm(cluster: cluster, users: users, packet: "storm", nodes: ids)
            let (victim, victimCopy) = try #require(cluster.primary(of: started.id, among: ids))
            let crowd = Task {
                await withTaskGroup(of: Void.self) { tasks in
                    for (i, user) in grabbers.enumerated() {
                        tasks.addTask {
                            try? await Task.sleep(for: .milliseconds(10 * i))
                            await storm.grab(as: user)
                        }
                    }
                }
            }
            try await waitUntil("3 grabs acknowledged before the kill", timeout: 20) { storm.winnerCount >= 3 }
            try await cluster.kill(victim)
            let winnersAtKill = storm.winnerCount
            let survivors = ids.filter { $0 != victim }
            let promoted = try await cluster.waitForPrimary(
                of: started.id,
                among: survivors,
                above: victimCopy.epoch,
                timeout: 15
            )
            await crowd.value
            let outcomes = storm.snapshot
            #expect(storm.unexpectedAnswers.isEmpty, "answers no retry can fix: \(storm.unexpectedAnswers.prefix(10))")
            let unresolved = grabbers.filter { outcomes[$0]?.resolved != true }
            if !unresolved.isEmpty {
                let state = ClusterStateError(
                    what: "after the crowd",
                    cluster: cluster,
                    ids: survivors,
                    session: started.id
                )
                Issue.record(
                    "\(unresolved.count) users with no definitive answer, e.g. \(unresolved.prefix(5).map { "\($0): \(outcomes[$0]?.answers.suffix(3) ?? [])" })\n\(state)"
                )
            }
            let winners = outcomes.filter { $0.value.amount != nil }.mapValues { $0.amount! }
            #expect(winners.count == shares, "\(winners.count) users got an amount, wanted \(shares)")
            #expect(
                winners.values.reduce(0, +) == total,
                "amounts sum to \(winners.values.reduce(0, +)), wanted \(total)"
            )
            #expect(winners.values.allSatisfy { $0 >= 1 }, "a share below one cent: \(winners.values.sorted())")
            let goneCodes = Set(outcomes.values.compactMap(\.gone))
            #expect(goneCodes.isSubset(of: ["empty"]), "410 codes \(goneCodes)")
            #expect(winnersAtKill < shares, "every share was taken before the kill: the kill hit no storm")

            // Every user asks again at a live node other than the one that answered: a winner
            // gets 200 with the same amount and seq, a loser 410 `empty`.
            let reasked = await withTaskGroup(of: (String, Int, String, String).self) { tasks in
                for (i, user) in grabbers.enumerated() {
                    let first = outcomes[user]?.answeredBy
                    let others = survivors.filter { $0 != first }
                    let node = others[i % others.count]
                    tasks.addTask {
                        let r = try? await RedPackets.call(
                            cluster,
                            users,
                            at: node,
                            "POST",
                            "/live/redpackets/storm/grab",
                            as: user
                        )
                        return (user, r?.status ?? 0, r?.body ?? "", node)
                    }
                }
                return await tasks.reduce(into: [(String, Int, String, String)]()) { $0.append($1) }
            }
            let failed = reasked.filter { [0, 502, 503, 504].contains($0.1) }
            let failedAt = Set(failed.map(\.3))
            if !failedAt.isEmpty {
                // Where a node could not route: its own copy and whom its gossip sees alive.
                let views = failedAt.sorted().map { "\($0) sees \((try? cluster.memberStates(seenBy: $0)) ?? [:])" }
                Issue.record(
                    "re-asks unanswered after 20 s at \(failedAt.sorted()) (\(failed.count), e.g. \(failed.prefix(3).map { "\($0.0): \($0.1) \($0.2.prefix(200))" })); \(views)\n\(ClusterStateError(what: "re-asks", cluster: cluster, ids: survivors, session: started.id))"
                )
            }
            for (user, status, body, node) in reasked {
                if let amount = winners[user] {
                    let json = LiveFixture.object(body)
                    #expect(status == 200, "\(user) again at \(node): \(status) \(body)")
                    #expect(
                        (json["amount"] as? NSNumber)?.int64Value == amount
                            && (json["seq"] as? NSNumber)?.uint64Value == outcomes[user]?.seq,
                        "\(user) won \(amount) at seq \(outcomes[user]?.seq ?? 0), again at \(node): \(body)"
                    )
                } else {
                    #expect(
                        status == 410 && RedPackets.error(body).code == "empty",
                        "\(user) lost, again at \(node): \(status) \(body)"
                    )
                }
            }

            // Every replica of the new set streams the same log: one `redpacket`, exactly the 50
            // grabs the winners were told of (user, amount, seq), shares counting down, no expiry.
            let (primary, members) = try await cluster.waitForConvergence(
                of: started.id,
                among: survivors,
                replicas: 3,
                timeout: 15
            )
            let lastSeq = try await ReplicationTests.lastEventSeq(cluster, users, at: primary)
            let logs = try await RedPackets.readLogs(cluster, users, from: members, upTo: lastSeq)
            for (node, log) in logs.sorted(by: { $0.key < $1.key }) {
                RedPackets.expectContiguous(log, upTo: lastSeq, "\(node)'s log")
                let packets = log.filter { $0.type == "redpacket" }
                #expect(packets.count == 1 && packets.first?.seq == packetSeq, "\(node): redpacket events \(packets)")
                #expect(
                    packets.first.map {
                        ($0.json["total"] as? NSNumber)?.int64Value == total && $0.shares == shares && $0.user == "u200"
                    } == true,
                    "\(node): \(packets.first?.json ?? [:])"
                )
                let grabs = log.filter { $0.type == "redpacket_grab" }
                #expect(grabs.count == shares, "\(node) logs \(grabs.count) grabs")
                #expect(grabs.allSatisfy { $0.redPacket == "storm" && $0.seq > packetSeq })
                var logged: [String: (Int64, UInt64)] = [:]
                for grab in grabs { logged[grab.user ?? "?"] = (grab.amount ?? -1, grab.seq) }
                #expect(logged.count == grabs.count, "\(node): a user logged twice")
                let mismatched = winners.filter { user, amount in
                    logged[user].map { $0.0 != amount || $0.1 != outcomes[user]?.seq } ?? true
                }
                #expect(mismatched.isEmpty, "\(node): told vs logged differ for \(mismatched.keys.sorted())")
                #expect(Set(logged.keys) == Set(winners.keys), "\(node): logged grabbers differ from the told winners")
                #expect(grabs.map(\.shares) == (0..<shares).reversed().map { Optional($0) }, "\(node): shares left")
                #expect(grabs.compactMap(\.amount).reduce(0, +) == total, "\(node): logged amounts")
                #expect(!log.contains { $0.type == "redpacket_expired" }, "\(node): an expiry")
            }
            let reference = logs[members[0]]!.map { "\($0.seq) \($0.type) \($0.user ?? "") \($0.amount ?? 0)" }
            for (node, log) in logs {
                #expect(
                    log.map { "\($0.seq) \($0.type) \($0.user ?? "") \($0.amount ?? 0)" } == reference,
                    "\(node)'s log differs from \(members[0])'s"
                )
            }

            let retried = outcomes.values.filter { $0.amount != nil && $0.retries > 0 }.count
            let statuses = outcomes.values.flatMap(\.answers).reduce(into: [Int: Int]()) {
                $0[$1.status, default: 0] += 1
            }
            print(
                "grabStormThroughFailover: \(victim) killed with \(winnersAtKill) shares taken -> \(promoted.node) "
                    + "at epoch \(promoted.copy.epoch); \(winners.count) winners (\(retried) after retries), "
                    + "\(outcomes.values.filter { $0.gone != nil }.count) empty; answers by status \(statuses); "
                    + "members \(members), lastSeq \(lastSeq)"
            )
        }
    }

    @Test(
        "bad red packets, an oversized stroke and guests' money writes through a forwarding node: the documented 4xx with a clear message, the session unchanged"
    )
    func badInputThroughTheCluster() async throws {
        try await LocalCluster.with(size: 4, nodeFlags: Self.nodeFlags) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "bad", memberCount: 2)
            let guest = try await RedPackets.token(cluster, user: "g0", group: "bad", role: "guest")
            let started = try await ReplicationTests.startSession(cluster, users, at: "n1", title: "bad")
            // Every bad request goes to a node that is not the primary, in turn: a replica and
            // the node outside the replica set both forward the write.
            let forwarders = ids.filter { $0 != started.primary }
            let ok = try await RedPackets.call(
                cluster,
                users,
                at: forwarders[0],
                "POST",
                "/live/redpackets",
                as: "u0",
                json: #"{"id":"ok1","total":1000,"currency":"CNY","shares":10}"#
            )
            try #require(ok.status == 201, "a valid packet: \(ok.status) \(ok.body)")
            let okSeq = try #require((LiveFixture.object(ok.body)["seq"] as? NSNumber)?.uint64Value)
            // The replicas show the packet before the snapshot, so "before" is the same everywhere.
            try await waitUntil("every node to show seq \(okSeq)", timeout: 10) {
                for node in ids {
                    let s = try await RedPackets.session(cluster, users, at: node)
                    if (s["lastSeq"] as? NSNumber)?.uint64Value != okSeq { return false }
                }
                return true
            }
            let before = try await RedPackets.session(cluster, users, at: started.primary)

            let stroke = (0..<10_000).map { i in "[\(Double(i % 100) / 100),0.5]" }.joined(separator: ",")
            struct Case {
                var name: String
                var method = "POST"
                var path: String
                var user: String?
                var token: String?
                var json: String?
                var status: Int
                var code: String
                /// A word the message must hold: it says which field or rule.
                var says: String
            }
            let cases: [Case] = [
                Case(
                    name: "negative total",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"neg","total":-500,"currency":"CNY","shares":5}"#,
                    status: 400,
                    code: "bad_request",
                    says: "total"
                ),
                Case(
                    name: "total over 1,000,000",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"big","total":1000001,"currency":"CNY","shares":5}"#,
                    status: 400,
                    code: "bad_request",
                    says: "total"
                ),
                Case(
                    name: "total below the shares",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"thin","total":9,"currency":"CNY","shares":10}"#,
                    status: 400,
                    code: "bad_request",
                    says: "total"
                ),
                Case(
                    name: "0 shares",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"zero","total":500,"currency":"CNY","shares":0}"#,
                    status: 400,
                    code: "bad_request",
                    says: "shares"
                ),
                Case(
                    name: "201 shares",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"many","total":5000,"currency":"CNY","shares":201}"#,
                    status: 400,
                    code: "bad_request",
                    says: "shares"
                ),
                Case(
                    name: "a bad packet id",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"has space","total":500,"currency":"CNY","shares":5}"#,
                    status: 400,
                    code: "bad_request",
                    says: "id"
                ),
                Case(
                    name: "a lower-case currency",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"cur","total":500,"currency":"cny","shares":5}"#,
                    status: 400,
                    code: "bad_request",
                    says: "currency"
                ),
                Case(
                    name: "a total of the wrong type",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"typ","total":"500","currency":"CNY","shares":5}"#,
                    status: 400,
                    code: "bad_json",
                    says: "total"
                ),
                Case(
                    name: "an id reused by another user",
                    path: "/live/redpackets",
                    user: "u1",
                    json: #"{"id":"ok1","total":1000,"currency":"CNY","shares":10}"#,
                    status: 409,
                    code: "conflict",
                    says: "conflict"
                ),
                Case(
                    name: "a grab of an unknown packet",
                    path: "/live/redpackets/nosuch/grab",
                    user: "u1",
                    status: 404,
                    code: "not_found",
                    says: "no such"
                ),
                Case(
                    name: "a stroke of 10,000 points",
                    path: "/live/board",
                    user: "host",
                    json: #"{"kind":"stroke","points":[\#(stroke)]}"#,
                    status: 400,
                    code: "bad_request",
                    says: "points"
                ),
                Case(
                    name: "a guest's tip",
                    path: "/live/tips",
                    token: guest,
                    json: #"{"amount":100,"currency":"CNY","id":"gt1"}"#,
                    status: 403,
                    code: "forbidden",
                    says: "guests"
                ),
                Case(
                    name: "a guest's red packet",
                    path: "/live/redpackets",
                    token: guest,
                    json: #"{"id":"grp","total":500,"currency":"CNY","shares":5}"#,
                    status: 403,
                    code: "forbidden",
                    says: "guests"
                ),
                Case(
                    name: "a guest's grab",
                    path: "/live/redpackets/ok1/grab",
                    token: guest,
                    status: 403,
                    code: "forbidden",
                    says: "guests"
                ),
                Case(
                    name: "a guest starting a live",
                    path: "/live",
                    token: guest,
                    json: #"{"title":"mine"}"#,
                    status: 403,
                    code: "forbidden",
                    says: "guests"
                ),
            ]
            for (i, c) in cases.enumerated() {
                let node = forwarders[i % forwarders.count]
                // A failover (see `RedPackets.session`) is retried as a client would: those
                // answers say nothing about the input.
                let send = {
                    try await Curl.call(
                        c.method,
                        users.url(cluster, node, c.path),
                        token: c.token ?? users.token(c.user!),
                        json: c.json
                    )
                }
                let giveUp = ContinuousClock.now + .seconds(20)
                var r = try await send()
                while [0, 502, 503, 504].contains(r.status), ContinuousClock.now < giveUp {
                    try await Task.sleep(for: .milliseconds(200))
                    r = try await send()
                }
                let error = RedPackets.error(r.body)
                #expect(r.status == c.status, "\(c.name) at \(node): \(r.status) \(r.body.prefix(300))")
                #expect(error.code == c.code, "\(c.name) at \(node): code \(error.code), wanted \(c.code)")
                #expect(
                    error.message.lowercased().contains(c.says),
                    "\(c.name) at \(node): the message \"\(error.message)\" does not say \(c.says)"
                )
            }
            for node in [started.primary] + forwarders {
                let after = try await RedPackets.session(cluster, users, at: node)
                #expect(
                    try RedPackets.canonical(after) == RedPackets.canonical(before),
                    "the session changed at \(node): before \(before), after \(after)\n\(cluster.logs())"
                )
            }
            // The guest's token is good: it may watch and comment, so its 403s above were its role.
            let guestComment = try await Curl.call(
                "POST",
                users.url(cluster, forwarders[0], "/live/comments"),
                token: guest,
                json: #"{"text":"hi from a guest","id":"g1"}"#
            )
            #expect(guestComment.status == 201, "a guest's comment: \(guestComment.status) \(guestComment.body)")
            let guestView = try await Curl.call("GET", users.url(cluster, forwarders[1], "/live"), token: guest)
            #expect(guestView.status == 200, "a guest's GET /live: \(guestView.status) \(guestView.body)")
        }
    }

    @Test(
        "with --redpacket-ttl 2s a partly grabbed packet's remainder goes back in redpacket_expired, later grabs are 410 expired; ending the live returns an open packet before ended"
    )
    func expiry() async throws {
        try await LocalCluster.with(size: 3, nodeFlags: Self.nodeFlags + ["--redpacket-ttl", "2s"]) { cluster in
            let ids = cluster.ids()
            let users = try await GroupUsers.mint(for: cluster, group: "ttl", memberCount: 6)
            let started = try await ReplicationTests.startSession(cluster, users, at: "n1", title: "ttl")
            let other = try #require(ids.first { $0 != started.primary })

            let sent = try await RedPackets.call(
                cluster,
                users,
                at: other,
                "POST",
                "/live/redpackets",
                as: "u0",
                json: #"{"id":"rp1","total":1000,"currency":"CNY","shares":10}"#
            )
            try #require(sent.status == 201, "send: \(sent.status) \(sent.body)")
            var taken: [String: Int64] = [:]
            for user in ["u1", "u2", "u3"] {
                let r = try await RedPackets.call(
                    cluster,
                    users,
                    at: ids.randomElement()!,
                    "POST",
                    "/live/redpackets/rp1/grab",
                    as: user
                )
                try #require([200, 201].contains(r.status), "\(user)'s grab: \(r.status) \(r.body)")
                taken[user] = try #require((LiveFixture.object(r.body)["amount"] as? NSNumber)?.int64Value)
            }
            let remainder = 1000 - taken.values.reduce(0, +)

            // The primary's clock returns the rest within the TTL plus its once-a-second check.
            // Read at a replica, from a fresh stream each time: a failover on starved cores would
            // end a long-lived one.
            var log: [LoggedEvent] = []
            try await waitUntil("redpacket_expired for rp1 at \(other)", timeout: 15) {
                log = try await RedPackets.currentLog(cluster, users, at: other)
                return log.contains { $0.type == "redpacket_expired" }
            }
            let packet = try #require(log.first { $0.type == "redpacket" })
            let e = try #require(log.first { $0.type == "redpacket_expired" })
            #expect(e.redPacket == "rp1" && e.user == "u0", "expired event \(e.json)")
            #expect(e.amount == remainder, "expired \(e.amount ?? -1), wanted the remainder \(remainder)")
            #expect(e.shares == 7, "unclaimed shares \(e.shares ?? -1)")
            #expect(e.json["currency"] as? String == "CNY")
            let expiresAt = try #require(packet.json["expiresAt"] as? String)
            let at = try #require(e.json["at"] as? String)
            #expect(at >= expiresAt, "expired at \(at), before the packet's expiresAt \(expiresAt)")

            // Later: a new user gets 410 expired at every node; a user who had grabbed still gets
            // their amount.
            for node in ids {
                let late = try await RedPackets.call(
                    cluster,
                    users,
                    at: node,
                    "POST",
                    "/live/redpackets/rp1/grab",
                    as: "u4"
                )
                #expect(
                    late.status == 410 && RedPackets.error(late.body).code == "expired",
                    "a late grab at \(node): \(late.status) \(late.body)"
                )
                let again = try await RedPackets.call(
                    cluster,
                    users,
                    at: node,
                    "POST",
                    "/live/redpackets/rp1/grab",
                    as: "u1"
                )
                #expect(
                    again.status == 200
                        && (LiveFixture.object(again.body)["amount"] as? NSNumber)?.int64Value == taken["u1"],
                    "u1 again at \(node): \(again.status) \(again.body)"
                )
            }
            let afterExpiry = try await RedPackets.currentLog(cluster, users, at: other)
            #expect(afterExpiry.filter { $0.type == "redpacket_expired" }.count == 1, "\(afterExpiry)")

            // An open packet at the end: its remainder is logged back just before `ended`.
            let second = try await RedPackets.call(
                cluster,
                users,
                at: other,
                "POST",
                "/live/redpackets",
                as: "u2",
                json: #"{"id":"rp2","total":300,"currency":"CNY","shares":3}"#
            )
            try #require(second.status == 201, "rp2: \(second.status) \(second.body)")
            let grab = try await RedPackets.call(
                cluster,
                users,
                at: other,
                "POST",
                "/live/redpackets/rp2/grab",
                as: "u3"
            )
            try #require([200, 201].contains(grab.status), "rp2 grab: \(grab.status) \(grab.body)")
            let grabbed = try #require((LiveFixture.object(grab.body)["amount"] as? NSNumber)?.int64Value)
            let end = try await RedPackets.call(cluster, users, at: other, "DELETE", "/live", as: "host")
            try #require(end.status == 200, "end: \(end.status) \(end.body)")

            // Every replica's log of the ended session (the replay's event log).
            for node in ids {
                let replay = try await RedPackets.call(
                    cluster,
                    users,
                    at: node,
                    "GET",
                    "/replays/\(started.id)/events",
                    as: "u5"
                )
                #expect(replay.status == 200, "replay events at \(node): \(replay.status)")
                let log = LoggedEvent.parse(replay: replay.body)
                RedPackets.expectContiguous(log, upTo: UInt64(log.count), "\(node)'s replay log")
                let types = log.map(\.type)
                #expect(types.last == "ended", "\(node): the log ends with \(types.suffix(3))")
                let expiries = log.filter { $0.type == "redpacket_expired" }
                #expect(expiries.map(\.redPacket) == ["rp1", "rp2"], "\(node): expiries \(expiries)")
                if let rp2 = expiries.last, let ended = log.last {
                    #expect(rp2.seq < ended.seq, "\(node): rp2's expiry at \(rp2.seq), ended at \(ended.seq)")
                    #expect(rp2.amount == 300 - grabbed && rp2.shares == 2 && rp2.user == "u2", "\(node): \(rp2.json)")
                }
            }
        }
    }
}
