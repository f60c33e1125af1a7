import Live

/// The red-packet rules checked on a committed log, written again from the contract rather than
/// by `LiveSessionState.apply` (which a broken `decide` could agree with): every packet's split
/// adds up; its grabs are distinct users taking the split's shares in order, each share once;
/// what was handed out plus what went back never exceeds the total, and equals it once every
/// share is taken or the rest went back; an ended live holds no open packet.
struct RedPacketLedger {
    struct Packet {
        var sender: String
        var total: Int64
        var amounts: [Int64]
        /// seq of the `redpacket` event.
        var seq: UInt64
        /// User → (share index, amount, event seq).
        var grabs: [String: (index: Int, amount: Int64, seq: UInt64)] = [:]
        var taken = 0
        var paid: Int64 = 0
        var returned: Int64?
        var closed: Bool { returned != nil || taken == amounts.count }
    }

    private(set) var packets: [String: Packet] = [:]
    private(set) var order: [String] = []
    private(set) var violations: [String] = []
    private(set) var ended = false
    private(set) var grabCount = 0
    private(set) var expiries = 0
    /// Packets still open when the live ended: their rest never goes back to the sender.
    private(set) var openAtEnd: [String] = []

    private mutating func fail(_ message: String) {
        if violations.count < 8 { violations.append(message) }
    }

    /// Checks the events of a committed log in order.
    init(_ events: [LiveEvent]) {
        var expectedSeq: UInt64 = 1
        for event in events {
            if event.seq != expectedSeq { fail("event seq \(event.seq) where \(expectedSeq) was due") }
            expectedSeq = event.seq + 1
            record(event)
        }
        for id in order {
            let packet = packets[id]!
            let out = packet.paid + (packet.returned ?? 0)
            if out > packet.total { fail("packet \(id) paid \(packet.paid) and returned \(packet.returned ?? 0) of \(packet.total)") }
            if packet.closed, out != packet.total {
                fail("packet \(id) closed having paid \(packet.paid) and returned \(packet.returned ?? 0) of \(packet.total)")
            }
        }
    }

    private mutating func record(_ event: LiveEvent) {
        switch event.type {
        case .redpacket:
            guard let id = event.clientID, let total = event.amount, let amounts = event.amounts else {
                return fail("seq \(event.seq): red packet without id, total or split")
            }
            if packets[id] != nil { fail("seq \(event.seq): packet \(id) sent twice") }
            if ended { fail("seq \(event.seq): packet \(id) sent after the end") }
            if amounts.count != event.shares || amounts.contains(where: { $0 < 1 }) || amounts.reduce(0, +) != total {
                fail("seq \(event.seq): packet \(id) split \(amounts) for \(event.shares ?? -1) shares of \(total)")
            }
            packets[id] = Packet(sender: event.user, total: total, amounts: amounts, seq: event.seq)
            order.append(id)
        case .redpacketGrab:
            grabCount += 1
            guard let id = event.ref, var packet = packets[id] else {
                return fail("seq \(event.seq): grab of unknown packet \(event.ref ?? "-")")
            }
            if ended { fail("seq \(event.seq): grab of \(id) after the end") }
            if packet.returned != nil { fail("seq \(event.seq): grab of \(id) after it expired") }
            if let first = packet.grabs[event.user] {
                fail("seq \(event.seq): \(event.user) grabbed \(id) again (first at seq \(first.seq))")
            }
            // The share this grab claims to take: the event says how many are left after it.
            let index = packet.amounts.count - 1 - (event.shares ?? -1)
            if index != packet.taken {
                fail("seq \(event.seq): grab of \(id) takes share \(index), share \(packet.taken) was next")
            }
            if packet.grabs.values.contains(where: { $0.index == index }) {
                fail("seq \(event.seq): share \(index) of \(id) given twice")
            }
            guard packet.taken < packet.amounts.count else {
                packets[id] = packet
                return fail("seq \(event.seq): grab of \(id) with no share left")
            }
            let amount = event.amount ?? -1
            if amount != packet.amounts[packet.taken] {
                fail("seq \(event.seq): grab of \(id) gave \(amount), share \(packet.taken) is \(packet.amounts[packet.taken])")
            }
            packet.grabs[event.user] = (index, amount, event.seq)
            packet.taken += 1
            packet.paid += amount
            packets[id] = packet
        case .redpacketExpired:
            expiries += 1
            guard let id = event.ref, var packet = packets[id] else {
                return fail("seq \(event.seq): expiry of unknown packet \(event.ref ?? "-")")
            }
            if packet.closed { fail("seq \(event.seq): expiry of \(id), already closed") }
            let rest = packet.amounts[min(packet.taken, packet.amounts.count)...].reduce(0, +)
            if event.amount != rest || event.shares != packet.amounts.count - packet.taken {
                fail("seq \(event.seq): expiry of \(id) returned \(event.amount ?? -1), \(rest) was left")
            }
            if event.user != packet.sender { fail("seq \(event.seq): \(id) returned to \(event.user), not its sender") }
            packet.returned = event.amount ?? 0
            packets[id] = packet
        case .ended:
            ended = true
            // The end returns every packet's unclaimed shares first (`SessionHost.write(.end)`).
            openAtEnd = order.filter { !packets[$0]!.closed }
        default:
            break
        }
    }
}
