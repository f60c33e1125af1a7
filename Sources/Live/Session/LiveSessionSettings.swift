/// Limits of a live session, from the node's config. Defaults are the contract's where API.md
/// names a number, else chosen to be generous for people and tight for scripts.
public struct LiveSessionSettings: Sendable, Equatable {
    /// Longest comment, question or pin, in Characters after trimming (API.md: 1 to 500).
    public var maxTextLength: Int = 500
    /// Longest title, in Characters after trimming; an empty title is allowed.
    public var maxTitleLength: Int = 200
    /// Largest single tip in cents (minor units): 1,000,000 = 10,000.00 of the currency. Caps the
    /// damage of a client bug (an amount in units sent as cents) and keeps totals far from
    /// overflow; currencies without minor units (JPY) are capped at 1,000,000 of their unit.
    public var maxTipAmount: Int64 = 1_000_000
    /// Most likes in one `POST …/likes` (API.md: 1..100).
    public var maxLikesPerRequest: Int = 100
    /// Logged writes (comment, question, tip) a user may burst before the limit applies.
    public var writeBurst: Int = 5
    /// Milliseconds to earn back one write: 500 = 2 writes a second sustained.
    public var writeIntervalMillis: Int64 = 500
    /// Like requests a user may burst (each may carry up to `maxLikesPerRequest` likes).
    public var likeBurst: Int = 10
    /// Milliseconds to earn back one like request: 200 = 5 requests a second sustained.
    public var likeIntervalMillis: Int64 = 200
    /// Users whose buckets each limiter remembers; beyond it, the fullest buckets are forgotten
    /// (a forgotten user starts with a full bucket again), so memory stays bounded in a raid.
    public var rateLimiterMaxUsers: Int = 10_000
    /// Largest red packet in cents: the tip cap's reasoning (a unit/cents mix-up stays small).
    public var maxRedPacketTotal: Int64 = 1_000_000
    /// Unclaimed shares go back to the sender this long after the packet was sent
    /// (`--redpacket-ttl`, API.md: 24 h).
    public var redPacketTTLMillis: Int64 = 24 * 3_600_000
    /// Red packets one session may hold: the state keeps each with its grabs.
    public var maxRedPackets: Int = 1_000
    /// Groups one live may be shared into at once.
    public var maxShares: Int = 50
    /// Product cards one session may hold.
    public var maxProducts: Int = 100
    /// Highest product price in cents.
    public var maxPrice: Int64 = 100_000_000
    /// Most points in one stroke (API.md: 2,000).
    public var maxStrokePoints: Int = 2_000
    /// Longest product, image or courseware URL.
    public var maxURLLength: Int = 2_048
    /// Board events the host may burst, and ms to earn one back: 50 = 20 a second sustained,
    /// enough for a pen sending a stroke every few frames.
    public var boardBurst: Int = 40
    public var boardIntervalMillis: Int64 = 50
    /// Scheduled lives one group may hold at once (the group log keeps each until it is
    /// cancelled or fulfilled).
    public var maxSchedules: Int = 100
    /// How far ahead a live may be scheduled: 366 days.
    public var maxScheduleAheadMillis: Int64 = 366 * 86_400_000

    public init() {}
}
