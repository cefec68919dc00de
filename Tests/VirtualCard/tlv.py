"""BER-TLV as PIV uses it: one- to three-byte tags, definite lengths up to 0xFFFF."""


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    if n < 0x10000:
        return bytes([0x82, n >> 8, n & 0xFF])
    raise ValueError("TLV value too long")


def tlv(tag: int, value: bytes) -> bytes:
    """One TLV; tag is given as the integer of its bytes (0x5FC105, 0x7F49, 0x81)."""
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return tag_bytes + encode_length(len(value)) + value


def _read_tag(data: bytes, i: int) -> tuple[int, int]:
    first = data[i]
    tag = first
    i += 1
    if first & 0x1F == 0x1F:  # multi-byte tag: continue while bit 8 is set
        while True:
            b = data[i]
            tag = (tag << 8) | b
            i += 1
            if not b & 0x80:
                break
    return tag, i


def _read_length(data: bytes, i: int) -> tuple[int, int]:
    first = data[i]
    i += 1
    if first < 0x80:
        return first, i
    count = first & 0x7F
    if count == 0 or count > 3:
        raise ValueError("unsupported TLV length")
    return int.from_bytes(data[i:i + count], "big"), i + count


def parse(data: bytes) -> list[tuple[int, bytes]]:
    """All TLVs at this level, in order. Raises ValueError on truncated input."""
    out = []
    i = 0
    while i < len(data):
        tag, i = _read_tag(data, i)
        length, i = _read_length(data, i)
        if i + length > len(data):
            raise ValueError("truncated TLV")
        out.append((tag, data[i:i + length]))
        i += length
    return out


def find(data: bytes, tag: int) -> bytes | None:
    for t, v in parse(data):
        if t == tag:
            return v
    return None
