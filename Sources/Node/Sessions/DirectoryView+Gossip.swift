import Gossip
import Shard

extension DirectoryView.MemberState {
    /// Gossip's state of a member, as the session directory sees it.
    init(_ status: MemberStatus) {
        self =
            switch status {
            case .alive: .alive
            case .suspect: .suspect
            case .dead: .dead
            case .left: .left
            }
    }
}
