#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal (its controlling tty, so /dev/tty is the pty) and types
answers as a person would: each answer only after its prompt has appeared, because a program that
turns echo off with TCSAFLUSH discards whatever was typed before it asked.

Usage: answer-prompts.py COMMAND [ARG...]
CB_PROMPTS is a JSON list of [prompt substring, answer] pairs (answers never go on argv).
Prints everything the terminal showed, and exits with the command's exit code (124 on timeout)."""
import json, os, pty, select, signal, sys, time

pairs = json.loads(os.environ.get("CB_PROMPTS", "[]"))
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])

shown = b""
deadline = time.monotonic() + 120

def read_some():
    """Reads what the terminal shows; False at end of output."""
    global shown
    ready, _, _ = select.select([fd], [], [], 1.0)
    if not ready:
        return True
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    if not chunk:
        return False
    shown += chunk
    return True

seen = 0
open_ = True
for prompt, answer in pairs:
    while open_ and prompt.encode() not in shown[seen:] and time.monotonic() < deadline:
        open_ = read_some()
    if prompt.encode() not in shown[seen:]:
        break
    seen = shown.index(prompt.encode(), seen) + len(prompt)
    os.write(fd, answer.encode() + b"\n")
while open_ and time.monotonic() < deadline:
    open_ = read_some()
if open_:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.stdout.buffer.write(shown)
    sys.exit(124)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(shown)
sys.exit(os.waitstatus_to_exitcode(status))
