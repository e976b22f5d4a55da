import ClarmEvents
import ClarmStorage

/// Which amounts of a segment's rows count as revenue: only finite JSON numbers (docs/QUERIES.md, `total_revenue`).
///
/// The segment's `amount` column keeps the property's text with strings unescaped, so `"19.99"` and `19.99`
/// read alike there. An amount whose text reads as a finite number is therefore confirmed against the row's
/// raw properties; each distinct amount and each distinct properties value is looked at once.
struct SegmentAmounts {
    private let segment: Segment
    private let amounts: Segment.Dictionary
    private var properties: Segment.Dictionary?
    /// Per amount id: whether its text reads as a finite number; nil until asked.
    private var readsAsNumber: [Bool?]
    /// Per properties id: whether its `amount` member is a finite JSON number; nil until asked.
    private var holdsNumber: [Bool?]
    /// The properties ids of row block `idsBlock`, read when a row of that block first needs them.
    private var propertyIDs: [UInt32] = []
    private var idsBlock = -1
    private var reader = PropertyReader()

    /// `properties` is the segment's properties dictionary when the caller has it already.
    init(_ segment: Segment, amounts: Segment.Dictionary, properties: Segment.Dictionary?) {
        self.segment = segment
        self.amounts = amounts
        self.properties = properties
        readsAsNumber = [Bool?](repeating: nil, count: amounts.count)
        holdsNumber = [Bool?](repeating: nil, count: properties?.count ?? 0)
    }

    /// Whether the amount `id` of row `row` of row block `block` is a finite JSON number.
    mutating func counts(_ id: UInt32, row: Int, block: Int) throws(SegmentCorruption) -> Bool {
        let amount = Int(id)
        if readsAsNumber[amount] == nil {
            readsAsNumber[amount] = Array(amounts.value(amount)).withUnsafeBytes { PropertyReader.finiteValue(ofNumber: $0) != nil }
        }
        guard readsAsNumber[amount]! else { return false }
        if properties == nil {
            let dictionary = try segment.dictionary(.properties)
            properties = dictionary
            holdsNumber = [Bool?](repeating: nil, count: dictionary.count)
        }
        if idsBlock != block {
            try segment.ids(.properties, block: block, into: &propertyIDs)
            idsBlock = block
        }
        let object = Int(propertyIDs[row])
        if let known = holdsNumber[object] { return known }
        let number = Array(properties!.value(object)).withUnsafeBytes { reader.finiteNumber("amount", in: $0) != nil }
        holdsNumber[object] = number
        return number
    }
}
