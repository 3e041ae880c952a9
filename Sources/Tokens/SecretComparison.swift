/// Comparing a presented secret (a CSRF token, a code) with the expected one without revealing,
/// through timing, where they first differ.
public enum SecretComparison {
    /// Unequal lengths are unequal (lengths are public).
    public static func equal(_ a: String, _ b: String) -> Bool {
        Sodium.constantTimeEqual(Array(a.utf8), Array(b.utf8))
    }
}
