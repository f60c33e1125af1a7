/// At most `limit` holders at once, waiters served in arrival order: bounds the deliveries in
/// flight to one destination, so a slow receiver holds a bounded number of connections and
/// never more than that.
actor AsyncPermits {
    private let limit: Int
    private var held = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if held < limit {
            held += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Hands the permit to the first waiter, or frees it.
    func release() {
        if waiters.isEmpty {
            held -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
