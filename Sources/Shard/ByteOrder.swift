/// Orders strings by their UTF-8 bytes.
///
/// Placement sorts ids and keys before it uses them, so the answer does not depend on input order.
/// Byte order is a plain function of the bytes on every platform and Swift version, unlike
/// `String.<`, which compares by Unicode canonical equivalence.
@inline(__always)
func utf8Precedes(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
}
