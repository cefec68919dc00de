"""The card's control channel: one line of text a command, one line of JSON a reply.

card.py serves it on a Unix socket; rig.py (pull, insert, status, quit) asks.
"""

import socket


def read_line(sock: socket.socket) -> bytes:
    """What the peer sends up to and including its first newline, or all it sent before closing."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        line += chunk
    return line
