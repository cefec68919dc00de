"""ISO 7816-4 command APDU parsing (short and extended cases) and status words."""
from dataclasses import dataclass

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_STATUS = 0x6982
SW_AUTH_BLOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_INCORRECT_DATA = 0x6A80
SW_FUNC_NOT_SUPPORTED = 0x6A81
SW_NOT_FOUND = 0x6A82
SW_INCORRECT_P1P2 = 0x6A86
SW_REF_NOT_FOUND = 0x6A88
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_NO_PRECISE_DIAGNOSIS = 0x6F00


class CardError(Exception):
    """Ends a command with a status word and no data."""

    def __init__(self, sw: int):
        super().__init__(f"{sw:04X}")
        self.sw = sw


@dataclass
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int  # 0 when absent
    extended: bool

    @property
    def chained(self) -> bool:
        return bool(self.cla & 0x10)


def parse(raw: bytes) -> Command:
    if len(raw) < 4:
        raise CardError(SW_WRONG_LENGTH)
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    data, le, extended = b"", 0, False
    if len(body) == 0:
        pass  # case 1
    elif len(body) == 1:
        le = body[0] or 256  # case 2 short; libykpiv sends "Lc=00" this way too
    elif body[0] != 0 and len(body) in (1 + body[0], 2 + body[0]):
        n = body[0]  # case 3/4 short
        data = body[1:1 + n]
        if len(body) == 2 + n:
            le = body[-1] or 256
    elif body[0] == 0 and len(body) >= 3:
        extended = True
        n = int.from_bytes(body[1:3], "big")
        if len(body) == 3:
            le = n or 65536  # case 2 extended
        elif len(body) in (3 + n, 5 + n):
            data = body[3:3 + n]
            if len(body) == 5 + n:
                le = int.from_bytes(body[-2:], "big") or 65536
        else:
            raise CardError(SW_WRONG_LENGTH)
    else:
        raise CardError(SW_WRONG_LENGTH)
    return Command(cla, ins, p1, p2, data, le, extended)
