/// A `CrawlerMatcher` that remembers its last verdict: the events of one batch almost always share one user
/// agent, so a batch costs one match and byte comparisons, and repeating a costly user agent gains nothing.
/// One per thread (it keeps state).
public struct CrawlerFilter {
    public let matcher: CrawlerMatcher
    private var lastUserAgent: [UInt8] = []
    private var lastIsCrawler = false

    public init(_ matcher: CrawlerMatcher) {
        self.matcher = matcher
        lastUserAgent.reserveCapacity(256)
    }

    public mutating func isCrawler(_ userAgent: UnsafeRawBufferPointer) -> Bool {
        if userAgent.elementsEqual(lastUserAgent) { return lastIsCrawler }
        lastIsCrawler = matcher.match(userAgent) != nil
        lastUserAgent.removeAll(keepingCapacity: true)
        lastUserAgent.append(contentsOf: userAgent)
        return lastIsCrawler
    }
}
