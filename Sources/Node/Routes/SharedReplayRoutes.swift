import Foundation
import Live
import NIOCore
import NIOHTTP1

/// Replays of lives shared into a group: the group lists its share pointers' replays (each
/// pointer ended with its share), and their routes serve the live's own recording and events,
/// fetched from the live's group's holders over an internal, peer-authenticated route (the
/// viewer is a member of the group shared into, not of the live's own).
extension LiveRoutes {
    static let internalReplayPrefix = "/internal/v1/groups/"

    func registerSharedReplays(into router: inout Router) {
        for suffix in ["index.m3u8", "segments/:name", "events"] {
            router.add(.GET, Self.internalReplayPrefix + ":g/replays/:session/" + suffix) { request in
                guard request.peer != nil else { throw PeerGate.notAPeer }
                let group = request.parameters["g"] ?? ""
                guard let id = request.parameters["session"], let state = sessions.endedSession(group: group, id: id)
                else { throw APIError.notFound("no such ended session", code: "no_session") }
                switch suffix {
                case "index.m3u8":
                    return try replayPlaylist(group: group, state: state, suffix: request.query["suffix"] ?? "")
                case "events": return Self.eventArrayStream(await sessions.events(group: group, session: id))
                default: return try replaySegment(group: group, state: state, name: request.parameters["name"] ?? "")
                }
            }
        }
    }

    /// The HLS VOD playlist of a recorded session held here; `suffix` rides on every URI (a
    /// player's `?access_token=`).
    func replayPlaylist(group: String, state: LiveSessionState, suffix: String) throws -> Response {
        guard state.info.record else {
            throw APIError.notFound("this session was not recorded", code: "not_recorded")
        }
        let dir = sessions.directory(group: group, session: state.info.id) + "/media"
        let entries = Recording.entries(directory: dir)
        let playlist = HLSPlaylist.vod(segments: entries.map { ("segments/\($0.sequence).ts\(suffix)", $0.duration) })
        return .text(playlist, contentType: "application/vnd.apple.mpegurl")
    }

    /// One recorded segment of a session held here.
    func replaySegment(group: String, state: LiveSessionState, name: String) throws -> Response {
        guard let n = Self.segmentNumber(name) else { throw APIError.notFound("no such segment") }
        let path = sessions.directory(group: group, session: state.info.id) + "/media/\(n).ts"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw APIError.notFound("no such segment")
        }
        var response = Response(body: .buffer(ByteBuffer(bytes: data)))
        response.headers.add(name: "Content-Type", value: "video/mp2t")
        return response
    }

    /// `rest` of the replay of the live `from` (`"<group>/<session>"`) a share pointer stood
    /// for: from this node when it holds the live's copy, else from the live's group's holders.
    func sharedReplay(_ from: String, _ rest: String, _ request: Request) async throws -> Response {
        guard let source = SessionRouter.parsePointer(from) else { throw APIError.internalError }
        let suffix = Self.tokenSuffix(request)
        if let state = sessions.endedSession(group: source.group, id: source.session) {
            switch rest {
            case "index.m3u8": return try replayPlaylist(group: source.group, state: state, suffix: suffix)
            case "events":
                return Self.eventArrayStream(await sessions.events(group: source.group, session: source.session))
            default: return try replaySegment(group: source.group, state: state, name: String(rest.dropFirst(9)))
            }
        }
        var path = Self.internalReplayPrefix + "\(source.group)/replays/\(source.session)/\(rest)"
        if !suffix.isEmpty, rest == "index.m3u8" {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            path += "?suffix=" + (suffix.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }
        for node in cluster.likelyHolders(group: source.group) {
            guard let address = cluster.address(of: node),
                let answer = try? await cluster.peers.request(
                    .GET,
                    path,
                    to: address,
                    headers: HTTPHeaders(),
                    body: nil,
                    timeout: cluster.settings.forwardTimeout
                ), answer.status == .ok
            else { continue }
            var response = Response(body: .buffer(answer.body))
            if let type = answer.headers.first(name: "content-type") {
                response.headers.add(name: "Content-Type", value: type)
            }
            return response
        }
        throw APIError.notFound("the shared live's replay is not reachable now", code: "no_session")
    }
}
