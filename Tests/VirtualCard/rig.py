#!/usr/bin/python3
"""The card rig: a private pcscd with vpcd as its only configured reader, and the virtual PIV card
in it. Nothing of it is visible to the machine's own pcscd or network:

- pcscd 1.9.9 always creates its socket as /run/pcscd/pcscd.comm (it ignores
  PCSCLITE_CSOCK_NAME; only clients read that), so it runs in a mount namespace of its own where
  DIR/run/pcscd is bind-mounted on /run/pcscd. Clients reach it with
  PCSCLITE_CSOCK_NAME=DIR/run/pcscd/pcscd.comm.
- vpcd listens on every address of its network namespace, so pcscd also gets a network
  namespace of its own, with only loopback up, and the card is started inside it (nsenter).
- /dev/bus/usb is hidden from it, so it never claims a real reader from the machine's pcscd.

Usage:
    rig.py run [--dir DIR] [--state FILE] -- COMMAND...   start, run COMMAND with the rig's
                                                          environment, stop; exits as COMMAND
    rig.py start --dir DIR [--state FILE]   start in the background; prints "export" lines
    rig.py stop --dir DIR                   stop what start started, wait for it to end
    rig.py pull|insert|status --dir DIR     take the card out, put it back, ask its state
    rig.py pull-on-put-data --dir DIR       fault for tests: the card is pulled instead of
                                            carrying out the next PUT DATA (an object write)
    rig.py serve --dir DIR [--state FILE]   the supervisor itself: prints "READY {json}" when the
                                            reader shows the card, stops everything when its
                                            standard input closes or on SIGTERM/SIGINT (this is
                                            what Swift's CardRig runs)
Needs root (or unprivileged user namespaces), pcscd and vsmartcard-vpcd.
"""
import argparse
import ctypes
import ctypes.util
import fcntl
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from control_line import read_line

HERE = os.path.dirname(os.path.abspath(__file__))
CARD = os.path.join(HERE, "card.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
# ykcs11 only talks to readers whose name starts with "Yubico"; yubico-piv-tool's default reader
# filter is the substring "YubiKey". pcscd appends " 00 00" (slot) to the name.
FRIENDLY_NAME = "Yubico CertBridge Virtual YubiKey"
READER_NAME = FRIENDLY_NAME + " 00 00"
VPCD_PORT = 0x8C7B  # vpcd's default; private anyway inside the rig's network namespace
VPCD_DRIVERS = ["/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
                "/usr/lib64/pcsc/drivers/serial/libifdvpcd.so",
                "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so"]
START_TIMEOUT = 20.0


class RigError(Exception):
    pass


# Paths inside a rig directory --------------------------------------------------------------------
class Paths:
    def __init__(self, directory: str, state: str | None = None):
        self.dir = os.path.abspath(directory)
        self.run = os.path.join(self.dir, "run", "pcscd")
        self.socket = os.path.join(self.run, "pcscd.comm")
        self.conf = os.path.join(self.dir, "reader.conf.d")
        self.state = os.path.abspath(state) if state else os.path.join(self.dir, "card.json")
        self.control = os.path.join(self.dir, "card.sock")
        self.pcscd_log = os.path.join(self.dir, "pcscd.log")
        self.card_log = os.path.join(self.dir, "card.log")
        self.apdu_log = os.path.join(self.dir, "apdu.log")
        self.pid = os.path.join(self.dir, "rig.pid")
        self.ready = os.path.join(self.dir, "ready.json")

    def env(self) -> dict[str, str]:
        return {"PCSCLITE_CSOCK_NAME": self.socket,
                "CERTBRIDGE_CARD_READER": READER_NAME,
                "CERTBRIDGE_CARD_CONTROL": self.control,
                "CERTBRIDGE_CARD_STATE": self.state,
                "CERTBRIDGE_CARD_RIG_DIR": self.dir}


# A minimal PC/SC client (ctypes), only to know when the reader shows the card ---------------------
class _ReaderState(ctypes.Structure):
    # pcsc-lite's SCARD_READERSTATE on Linux: DWORD is unsigned long.
    _fields_ = [("szReader", ctypes.c_char_p), ("pvUserData", ctypes.c_void_p),
                ("dwCurrentState", ctypes.c_ulong), ("dwEventState", ctypes.c_ulong),
                ("cbAtr", ctypes.c_ulong), ("rgbAtr", ctypes.c_ubyte * 33)]


SCARD_STATE_PRESENT = 0x20


def card_present(reader: str) -> bool:
    """True when pcscd shows a powered card in the reader. Reads PCSCLITE_CSOCK_NAME from the
    environment of this process (the rig sets it before the first call)."""
    lib = ctypes.CDLL(ctypes.util.find_library("pcsclite") or "libpcsclite.so.1")
    context = ctypes.c_long(0)
    if lib.SCardEstablishContext(ctypes.c_ulong(2), None, None, ctypes.byref(context)) != 0:
        return False
    try:
        state = _ReaderState(reader.encode(), None, 0, 0, 0)
        rv = lib.SCardGetStatusChange(context, ctypes.c_ulong(0), ctypes.byref(state),
                                      ctypes.c_ulong(1))
        return rv == 0 and bool(state.dwEventState & SCARD_STATE_PRESENT) and state.cbAtr > 0
    finally:
        lib.SCardReleaseContext(context)


# Namespaces -------------------------------------------------------------------------------------
def _unshare_prefix() -> list[str]:
    if os.geteuid() == 0:
        return ["unshare", "--mount", "--net", "--propagation", "private"]
    return ["unshare", "--user", "--map-root-user", "--mount", "--net", "--propagation",
            "private"]


def _nsenter_prefix(pid: int) -> list[str]:
    if os.geteuid() == 0:
        return ["nsenter", f"--net=/proc/{pid}/ns/net"]
    return ["nsenter", "--preserve-credentials", f"--user=/proc/{pid}/ns/user",
            f"--net=/proc/{pid}/ns/net"]


def _loopback_up() -> None:
    """A new network namespace starts with lo down; vpcd and the card need it up."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def exec_pcscd(run_dir: str, conf_dir: str) -> None:
    """Runs inside the new namespaces (`rig.py _pcscd`): loopback up, private /run/pcscd, exec."""
    _loopback_up()
    os.makedirs("/run/pcscd", exist_ok=True)
    subprocess.run(["mount", "--bind", run_dir, "/run/pcscd"], check=True)
    if os.path.isdir("/dev/bus/usb"):
        # Hide real USB readers from this pcscd: it would claim their CCID interface and take a
        # developer's YubiKey away from the machine's own pcscd while tests run.
        hidden = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=4k", "certbridge-no-usb",
                                 "/dev/bus/usb"], check=False)
        if hidden.returncode != 0:
            print("rig: could not hide /dev/bus/usb; real readers may show up", flush=True)
    pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
    os.execv(pcscd, [pcscd, "--foreground", "--config", conf_dir])


def _die_with_parent() -> None:
    # If the supervisor is killed outright, its children get SIGTERM instead of living on.
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# The supervisor ---------------------------------------------------------------------------------
class Rig:
    def __init__(self, paths: Paths, apdu_log: bool = False):
        self.paths = paths
        self.apdu_log = apdu_log
        self.pcscd: subprocess.Popen | None = None
        self.card: subprocess.Popen | None = None

    def _write_config(self) -> None:
        driver = next((d for d in VPCD_DRIVERS if os.path.exists(d)), None)
        if driver is None:
            raise RigError("vpcd's driver (libifdvpcd.so) is missing: install vsmartcard-vpcd")
        if shutil.which("pcscd") is None and not os.path.exists("/usr/sbin/pcscd"):
            raise RigError("pcscd is missing: install pcscd")
        os.makedirs(self.paths.run, exist_ok=True)
        os.makedirs(self.paths.conf, exist_ok=True)
        for leftover in (self.paths.socket, self.paths.control, self.paths.ready):
            if os.path.exists(leftover):
                os.unlink(leftover)
        with open(os.path.join(self.paths.conf, "certbridge-vpcd"), "w", encoding="utf-8") as f:
            # vpcd's DEVICENAME "/dev/null:PORT" means: listen on PORT for a virtual card.
            f.write(f'FRIENDLYNAME "{FRIENDLY_NAME}"\n'
                    f"DEVICENAME   /dev/null:0x{VPCD_PORT:X}\n"
                    f"LIBPATH      {driver}\n"
                    f"CHANNELID    0x{VPCD_PORT:X}\n")

    def start(self) -> dict:
        self._write_config()
        os.environ["PCSCLITE_CSOCK_NAME"] = self.paths.socket
        with open(self.paths.pcscd_log, "ab") as log:
            self.pcscd = subprocess.Popen(
                _unshare_prefix() + [PYTHON, os.path.abspath(__file__), "_pcscd",
                                     self.paths.run, self.paths.conf],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT
        # The card must join pcscd's network namespace: wait until pcscd owns it (exec done).
        while not os.path.exists(self.paths.socket):
            self._check_alive()
            if time.monotonic() > deadline:
                raise RigError(f"pcscd did not start; see {self.paths.pcscd_log}")
            time.sleep(0.02)
        card_args = [PYTHON, CARD, "--state", self.paths.state,
                     "--vpcd", f"127.0.0.1:{VPCD_PORT}", "--control", self.paths.control]
        if self.apdu_log:
            card_args += ["--log", self.paths.apdu_log]
        with open(self.paths.card_log, "ab") as log:
            self.card = subprocess.Popen(_nsenter_prefix(self.pcscd.pid) + card_args,
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        while not card_present(READER_NAME):
            self._check_alive()
            if time.monotonic() > deadline:
                raise RigError(f"the reader never showed the card; see {self.paths.dir}")
            time.sleep(0.05)
        info = dict(self.paths.env(), pcscd_pid=self.pcscd.pid, card_pid=self.card.pid,
                    supervisor_pid=os.getpid())
        with open(self.paths.ready, "w", encoding="utf-8") as f:
            json.dump(info, f)
        return info

    def _check_alive(self) -> None:
        for name, proc in (("pcscd", self.pcscd), ("card", self.card)):
            if proc is not None and proc.poll() is not None:
                raise RigError(f"{name} exited with {proc.returncode}; see {self.paths.dir}")

    def stop(self) -> None:
        # Card first, so pcscd sees it leave; then pcscd, which removes its socket.
        for proc in (self.card, self.pcscd):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (self.card, self.pcscd):
            if proc is None:
                continue
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for leftover in (self.paths.ready, self.paths.pid):
            if os.path.exists(leftover):
                os.unlink(leftover)


def serve(paths: Paths, apdu_log: bool, detach: bool) -> int:
    """Start, announce, then hold until told to stop (stdin EOF unless detached, or a signal)."""
    rig = Rig(paths, apdu_log)
    stop_requested = []
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: stop_requested.append(s))
    os.makedirs(paths.dir, exist_ok=True)
    with open(paths.pid, "w", encoding="utf-8") as f:
        f.write(str(os.getpid()))
    try:
        info = rig.start()
        print("READY " + json.dumps(info), flush=True)
        selector = selectors.DefaultSelector()
        selector.register(wake_r, selectors.EVENT_READ)
        if not detach:
            selector.register(sys.stdin, selectors.EVENT_READ)
        while not stop_requested:
            for key, _ in selector.select(0.5):
                if key.fileobj is sys.stdin and not sys.stdin.buffer.read1(4096):
                    stop_requested.append("stdin closed")
                elif key.fileobj is wake_r:
                    wake_r.recv(64)
            rig._check_alive()
        return 0
    except RigError as e:
        print(f"FAILED {e}", flush=True)
        return 1
    finally:
        rig.stop()


def control(paths: Paths, command: str) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        try:
            s.connect(paths.control)
        except OSError as e:
            raise RigError(f"no card at {paths.control}: {e.strerror}") from None
        s.sendall(command.encode() + b"\n")
        reply = read_line(s)
    return json.loads(reply)


def wait_for_presence(present: bool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while card_present(READER_NAME) != present:
        if time.monotonic() > deadline:
            raise RigError("pcscd did not see the card " + ("arrive" if present else "leave"))
        time.sleep(0.05)


def main() -> int:
    # Parents such as Swift's Foundation.Process start children with almost every signal
    # blocked; unblock them, or SIGTERM would never stop pcscd and the card (they inherit this).
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if len(sys.argv) == 4 and sys.argv[1] == "_pcscd":
        exec_pcscd(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["run", "start", "stop", "serve", "pull", "insert",
                                            "status", "pull-on-put-data"])
    parser.add_argument("--dir", help="rig directory (run: a temporary one by default)")
    parser.add_argument("--state", help="card state file (default DIR/card.json)")
    parser.add_argument("--apdu-log", action="store_true", help="log APDUs to DIR/apdu.log")
    parser.add_argument("--detach", action="store_true", help=argparse.SUPPRESS)
    own = sys.argv[1:]
    argv = []
    if "--" in own:  # everything after "--" is the command to run, untouched by argparse
        argv = own[own.index("--") + 1:]
        own = own[:own.index("--")]
    args = parser.parse_args(own)
    try:
        if args.command == "run":
            if not argv:
                parser.error("run needs a command after --")
            directory = args.dir or tempfile.mkdtemp(prefix="certbridge-rig-")
            paths = Paths(directory, args.state)
            rig = Rig(paths, args.apdu_log)
            try:
                rig.start()
                return subprocess.call(argv, env=dict(os.environ, **paths.env()))
            finally:
                rig.stop()
        if not args.dir:
            parser.error(f"{args.command} needs --dir")
        paths = Paths(args.dir, args.state)
        if args.command == "serve":
            return serve(paths, args.apdu_log, args.detach)
        if args.command == "start":
            os.makedirs(paths.dir, exist_ok=True)
            cmd = [PYTHON, os.path.abspath(__file__), "serve", "--dir", paths.dir, "--detach"]
            if args.state:
                cmd += ["--state", paths.state]
            if args.apdu_log:
                cmd.append("--apdu-log")
            with open(os.path.join(paths.dir, "rig.log"), "ab") as log:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + START_TIMEOUT + 5
            while not os.path.exists(paths.ready):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RigError(f"the rig did not start; see {paths.dir}/rig.log")
                time.sleep(0.05)
            for key, value in paths.env().items():
                print(f"export {key}='{value}'")
            return 0
        if args.command == "stop":
            try:
                with open(paths.pid, encoding="utf-8") as f:
                    pid = int(f.read())
            except FileNotFoundError:
                return 0
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while os.path.exists(paths.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            return 0
        reply = control(paths, args.command)
        if args.command in ("pull", "insert"):
            os.environ["PCSCLITE_CSOCK_NAME"] = paths.socket
            wait_for_presence(args.command == "insert")
        print(json.dumps(reply))
        return 0
    except RigError as e:
        print(f"rig: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
