/// A change pcscd reported: a reader came or went, a card was inserted or removed.
public enum ReaderEvent: Sendable, Hashable {
    /// A reader appeared (plugged in, or pcscd started its driver).
    case readerAdded(String)
    /// A reader disappeared (unplugged).
    case readerRemoved(String)
    /// A card was inserted into `reader`; `atr` names its kind (see `ATR.cardName`).
    case cardInserted(reader: String, atr: ATR)
    /// The card in `reader` was removed.
    case cardRemoved(reader: String)
}
