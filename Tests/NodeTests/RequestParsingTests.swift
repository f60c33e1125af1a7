import Testing

@testable import Node

@Suite("Request target parsing")
struct RequestParsingTests {
    @Test func splitsPathAndQuery() {
        let (path, query) = Request.split(uri: "/v1/groups/g%2D1/live/comments?after=42&limit=10&q=a+b%21")
        #expect(path == "/v1/groups/g-1/live/comments")
        #expect(query == ["after": "42", "limit": "10", "q": "a b!"])
    }

    @Test func malformedEscapesStayLiteral() {
        let (path, query) = Request.split(uri: "/a%zz?x=%4")
        #expect(path == "/a%zz")
        #expect(query["x"] == "%4")
        #expect(percentDecode("%FF%FE") == nil)
    }

    @Test func routerBindsParameters() {
        let segments: [Router.Segment] = [.literal("v1"), .literal("groups"), .parameter("g"), .literal("live")]
        #expect(Router.match(segments, ["v1", "groups", "abc", "live"]) == ["g": "abc"])
        #expect(Router.match(segments, ["v1", "groups", "abc"]) == nil)
        #expect(Router.match(segments, ["v1", "group", "abc", "live"]) == nil)
    }
}
