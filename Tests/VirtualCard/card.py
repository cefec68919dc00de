#!/usr/bin/python3
"""A virtual PIV smart card for vsmartcard's vpcd reader driver.

vpcd runs inside pcscd and listens on a TCP port (DEVICENAME /dev/null:PORT); the card connects
to it. While the card is "inserted" it holds that connection; "pulling" it closes the connection
and vpcd then reports an empty reader; "inserting" connects again and vpcd accepts on its next
presence poll (pcscd polls every 400 ms). vpcd binds its port on every address, so the rig runs
pcscd in a network namespace of its own, where the only address is loopback, and starts the card
inside it. (vpcd's "reversed" mode, where the card would listen, crashes pcscd in Debian's
vpcd 0.8 as soon as a connection drops.)

vpcd's wire format: every message is a 2-byte big-endian length and a payload. A 1-byte payload
is a control message (0 power off, 1 power on, 2 reset, 4 ATR request; the ATR request expects
the ATR as the answer, the others no answer); anything longer is a command APDU, answered with the
response APDU.

Control: a unix socket (--control) that takes one line, "pull", "insert", "status" or "quit", and
answers one JSON line; or signals: SIGUSR1 pulls, SIGUSR2 inserts, SIGTERM/SIGINT quit.
"pull-on-put-data" arms a fault for tests: the next PUT DATA (a certificate or other object being
written) is not carried out, and the card is pulled instead, as if the user pulled it mid-write.

    card.py --state card.json --vpcd 127.0.0.1:35963 --control card.sock [--log apdu.log]
"""
import argparse
import functools
import json
import operator
import os
import selectors
import signal
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from card_state import CardState  # noqa: E402
from control_line import read_line  # noqa: E402
from piv_applet import PIVApplet  # noqa: E402

# 3B: direct convention; T0 8C: TD1 follows, 12 historical bytes; TD1 01: T=1 only.
# Historical bytes: category 80 (compact TLV), tag 5 ("card issuer's data") length 10.
_ATR_BODY = bytes.fromhex("8C8001") + bytes([0x80, 0x5A]) + b"CertBridge"
ATR = b"\x3b" + _ATR_BODY + bytes([functools.reduce(operator.xor, _ATR_BODY)])  # + TCK

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
INS_VERIFY, INS_CHANGE, INS_RESET_RETRY, INS_IMPORT = 0x20, 0x24, 0x2C, 0xFE


def _redacted(apdu: bytes) -> str:
    """APDU as hex for the log, without PINs, PUKs or key material."""
    if len(apdu) > 4 and apdu[1] in (INS_VERIFY, INS_CHANGE, INS_RESET_RETRY, INS_IMPORT, 0xFF):
        return apdu[:5].hex() + " <secret>"
    return apdu.hex()


class VirtualCard:
    def __init__(self, state_path: str, host: str, port: int, control_path: str | None,
                 log_path: str | None):
        self.state = CardState(state_path)
        self.applet = PIVApplet(self.state)
        self.address = (host, port)
        self.control_path = control_path
        self.log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else None
        self.selector = selectors.DefaultSelector()
        self.conn: socket.socket | None = None
        self.buffer = b""
        self.inserted = False
        self.running = True
        self.apdus = 0
        self.pull_on_put_data = False  # the "pull-on-put-data" fault, armed by control
        # Signals only note what to do; the main loop does it (via the wake-up pipe).
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        self.pending_signals: list[int] = []
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda s, _f: self.pending_signals.append(s))
        self.selector.register(self.wake_r, selectors.EVENT_READ, self._on_wake)
        if control_path:
            if os.path.exists(control_path):
                os.unlink(control_path)
            self.control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.control.bind(control_path)
            self.control.listen(4)
            self.selector.register(self.control, selectors.EVENT_READ, self._on_control)

    def _log(self, text: str) -> None:
        if self.log:
            self.log.write(text + "\n")

    # Insert and pull --------------------------------------------------------------------------
    def insert(self) -> None:
        if self.inserted:
            return
        self.applet.reload()
        self.applet.power_cycle()
        self.inserted = True
        self._log("inserted")
        self._try_connect()

    def pull(self) -> None:
        if not self.inserted:
            return
        self._drop_connection()
        self.inserted = False
        self.applet.power_cycle()
        self._log("pulled")

    def _drop_connection(self) -> None:
        if self.conn is not None:
            self.selector.unregister(self.conn)
            self.conn.close()
            self.conn = None
            self.buffer = b""

    # vpcd link -------------------------------------------------------------------------------
    def _try_connect(self) -> None:
        """Connect to vpcd if inserted and not connected; vpcd may not be listening yet."""
        if not self.inserted or self.conn is not None:
            return
        try:
            conn = socket.create_connection(self.address, timeout=1)
        except OSError:
            return
        # Without these, delayed ACKs meet Nagle's algorithm on every exchange and a signature
        # takes ~200 ms instead of under a millisecond.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._quickack(conn)
        conn.setblocking(False)
        self.conn = conn
        self.buffer = b""
        self.selector.register(conn, selectors.EVENT_READ, self._on_data)
        self._log("connected to vpcd")

    @staticmethod
    def _quickack(conn: socket.socket) -> None:
        # Linux clears TCP_QUICKACK after a while, so it is set again after every read.
        if hasattr(socket, "TCP_QUICKACK"):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    def _on_data(self, conn: socket.socket) -> None:
        try:
            chunk = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._log("vpcd closed the connection")
            self._drop_connection()
            self.applet.power_cycle()
            return
        self._quickack(conn)
        self.buffer += chunk
        while len(self.buffer) >= 2:
            (length,) = struct.unpack(">H", self.buffer[:2])
            if len(self.buffer) < 2 + length:
                break
            message = self.buffer[2:2 + length]
            self.buffer = self.buffer[2 + length:]
            answer = self._handle(message)
            if answer is not None:
                try:
                    conn.setblocking(True)
                    conn.sendall(struct.pack(">H", len(answer)) + answer)
                    conn.setblocking(False)
                except OSError:
                    self._drop_connection()
                    return

    def _handle(self, message: bytes) -> bytes | None:
        if len(message) == 1:
            code = message[0]
            if code == CTRL_ATR:
                return ATR
            if code in (CTRL_OFF, CTRL_ON, CTRL_RESET):
                self.applet.power_cycle()
                self._log({CTRL_OFF: "power off", CTRL_ON: "power on",
                           CTRL_RESET: "reset"}[code])
            return None
        if self.pull_on_put_data and len(message) >= 2 and message[1] == 0xDB:
            self.pull_on_put_data = False
            self._log("PUT DATA arrived with the pull fault armed: pulling instead")
            self.pull()
            return None
        response = self.applet.process(message)
        self.apdus += 1
        if self.log:
            self._log(f"> {_redacted(message)}\n< {response.hex()}")
        return response

    # Control ----------------------------------------------------------------------------------
    def _status(self) -> dict:
        return {"ok": True, "inserted": self.inserted, "connected": self.conn is not None,
                "atr": ATR.hex().upper(), "port": self.address[1], "apdus": self.apdus,
                "pid": os.getpid()}

    def _on_control(self, server: socket.socket) -> None:
        client, _ = server.accept()
        client.settimeout(2)
        try:
            command = read_line(client).decode().strip()
            if command == "pull":
                self.pull()
            elif command == "insert":
                self.insert()
            elif command == "quit":
                self.running = False
            elif command == "pull-on-put-data":
                self.pull_on_put_data = True
            elif command != "status":
                client.sendall(json.dumps({"ok": False, "error": f"unknown command {command!r}"})
                               .encode() + b"\n")
                return
            client.sendall(json.dumps(self._status()).encode() + b"\n")
        except OSError:
            pass
        finally:
            client.close()

    def _on_wake(self, wake: socket.socket) -> None:
        try:
            wake.recv(512)
        except BlockingIOError:
            pass
        while self.pending_signals:
            sig = self.pending_signals.pop(0)
            if sig == signal.SIGUSR1:
                self.pull()
            elif sig == signal.SIGUSR2:
                self.insert()
            else:
                self.running = False

    def run(self) -> None:
        self.insert()
        while self.running:
            # While inserted but not connected, retry vpcd every 100 ms.
            waiting = self.inserted and self.conn is None
            for key, _ in self.selector.select(0.1 if waiting else None):
                key.data(key.fileobj)
                if not self.running:
                    break
            self._try_connect()
        self.pull()
        if self.control_path and os.path.exists(self.control_path):
            os.unlink(self.control_path)


def main() -> None:
    # The card is stopped and pulled by signals: make sure its parent did not leave them blocked.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    parser = argparse.ArgumentParser(description="Virtual PIV card for vpcd (reversed mode).")
    parser.add_argument("--state", required=True, help="JSON file with the card's state")
    parser.add_argument("--vpcd", default="127.0.0.1:35963",
                        help="vpcd's address (HOST:PORT; vpcd's default port is 35963)")
    parser.add_argument("--control", help="unix socket for pull/insert/status/quit")
    parser.add_argument("--log", help="append APDUs (secrets redacted) to this file")
    args = parser.parse_args()
    host, _, port = args.vpcd.rpartition(":")
    VirtualCard(args.state, host, int(port, 0), args.control, args.log).run()


if __name__ == "__main__":
    main()
