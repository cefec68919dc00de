"""The card's persistent state: PIN, PUK, counters, management key, keys and data objects.

Kept in a JSON file so a test can pull the card, re-insert it, or restart the emulator and find
the same card. Written atomically (temp file + rename) after every change, so a killed emulator
never leaves a half-written card behind.
"""
import json
import os
import tempfile

DEFAULT_PIN = "123456"
DEFAULT_PUK = "12345678"
DEFAULT_MGM_KEY = "010203040506070801020304050607080102030405060708"
DEFAULT_TRIES = 3


SERIAL = 13371337


def _default_objects(serial: int) -> dict:
    """What the card carries from the factory: Discovery, CHUID and CCC, so OpenSC's PIV driver
    finds a serial number (from the CHUID GUID) and a well-formed PIV card."""
    guid = b"CertBridge" + serial.to_bytes(6, "big")
    discovery = (bytes.fromhex("7E12") + bytes.fromhex("4F0BA0000003080000100001005F2F024000"))
    # FASC-N of an all-zero agency code, as test cards use; signature left empty (3E 00).
    chuid = (bytes.fromhex("3019") + bytes.fromhex("D4E739DA739CED39CE739D836858210842108421C84210C3EB")
             + bytes.fromhex("3410") + guid + bytes.fromhex("350832303330313233313E00FE00"))
    ccc = (bytes.fromhex("F015A000000116FF02") + guid[:14]
           + bytes.fromhex("F10121F20121F300F40100F50110F600F700FA00FB00FC00FD00FE00"))
    return {"7e": discovery.hex(), "5fc102": chuid.hex(), "5fc107": ccc.hex()}


def _defaults() -> dict:
    return {
        "serial": SERIAL,
        "version": [5, 4, 3],
        "pin": DEFAULT_PIN,
        "puk": DEFAULT_PUK,
        "pin_tries_max": DEFAULT_TRIES,
        "puk_tries_max": DEFAULT_TRIES,
        "pin_tries": DEFAULT_TRIES,
        "puk_tries": DEFAULT_TRIES,
        "mgm_algorithm": 0x03,  # 3DES, the PIV default
        "mgm_key": DEFAULT_MGM_KEY,
        # slot hex ("9a") -> {"algorithm", "pin_policy", "touch_policy", "origin", "pkcs8" (hex DER)}
        "keys": {},
        # object tag hex ("5fc105", "7e") -> value hex (content of the 53 template, or the whole
        # 7E/7F61 TLV for the objects that are not wrapped in 53)
        "objects": _default_objects(SERIAL),
    }


class CardState:
    def __init__(self, path: str):
        self.path = path
        self.data = _defaults()
        self.load()

    def load(self) -> None:
        """Read the file if it exists, else create it with factory defaults."""
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                stored = json.load(f)
            merged = _defaults()
            merged.update(stored)
            self.data = merged
        else:
            self.data = _defaults()
            self.save()

    def save(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".card-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def reset_to_factory(self) -> None:
        """Yubico's RESET: everything but serial and version goes back to defaults."""
        keep = {"serial": self.data["serial"], "version": self.data["version"]}
        self.data = _defaults()
        self.data.update(keep)
        self.save()

    def __getitem__(self, key):
        return self.data[key]

    def __setitem__(self, key, value):
        self.data[key] = value
