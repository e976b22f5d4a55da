/// Stops the fuzzer with `message` when an invariant does not hold; libFuzzer catches the trap and saves the
/// input as a crash.
public func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    guard !condition else { return }
    fatalError("invariant broken: \(message())", file: file, line: line)
}
