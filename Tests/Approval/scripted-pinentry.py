#!/usr/bin/env python3
"""A scripted pinentry for the approval tests: it speaks the Assuan pinentry protocol on
stdin/stdout like GnuPG's pinentry-tty and answers as told by the environment.

  SCRIPTED_PINENTRY_LOG       file to which one JSON line per CONFIRM or GETPIN is appended:
                              {"command", "title", "description", "prompt", "options"}
  SCRIPTED_PINENTRY_ANSWER    yes (CONFIRM says OK, GETPIN gives the password), no (cancel),
                              hang (never answers), or a comma list used one per request
                              (the count of requests so far is kept in LOG + ".count")
  SCRIPTED_PINENTRY_PASSWORD  the password GETPIN gives for a key (never logged)
  SCRIPTED_PINENTRY_PIN       the token PIN GETPIN gives when the module asks to log in (its title
                              says "log in"); such requests are logged with "kind": "login" and
                              do not use up SCRIPTED_PINENTRY_ANSWER; approvals have "kind": "approval"

Nothing of the password is written anywhere."""
import json, os, select, sys

def unescape(text):
    out, i = bytearray(), 0
    raw = text.encode()
    while i < len(raw):
        if raw[i:i + 1] == b"%" and i + 2 < len(raw) + 0 and len(raw[i + 1:i + 3]) == 2:
            out.append(int(raw[i + 1:i + 3], 16)); i += 3
        else:
            out.append(raw[i]); i += 1
    return out.decode(errors="replace")

def escape(data):
    return "".join(c if c not in "%\r\n" else "%%%02X" % ord(c) for c in data)

def answer_for_this_request(log):
    answers = os.environ.get("SCRIPTED_PINENTRY_ANSWER", "yes").split(",")
    if len(answers) == 1 or not log:
        return answers[0]
    counter = log + ".count"
    try:
        count = int(open(counter).read())
    except (OSError, ValueError):
        count = 0
    with open(counter, "w") as f:
        f.write(str(count + 1))
    return answers[min(count, len(answers) - 1)]

def main():
    log = os.environ.get("SCRIPTED_PINENTRY_LOG")
    state = {"title": "", "description": "", "prompt": "", "options": {}}
    out = sys.stdout
    def send(line):
        out.write(line + "\n"); out.flush()
    send("OK Pleased to meet you, scripted pinentry")
    for line in sys.stdin:
        line = line.rstrip("\n")
        command, _, argument = line.partition(" ")
        command = command.upper()
        if command in ("SETTITLE", "SETDESC", "SETPROMPT"):
            state[{"SETTITLE": "title", "SETDESC": "description", "SETPROMPT": "prompt"}[command]] = unescape(argument)
            send("OK")
        elif command == "OPTION":
            name, _, value = argument.partition("=")
            state["options"][name] = unescape(value)
            send("OK")
        elif command in ("CONFIRM", "GETPIN"):
            login = "log in" in state["title"]
            if log:
                with open(log, "a") as f:
                    f.write(json.dumps(dict(state, command=command, pid=os.getpid(), kind="login" if login else "approval")) + "\n")
            if login:
                send("D " + escape(os.environ.get("SCRIPTED_PINENTRY_PIN", "")))
                send("OK")
                continue
            answer = answer_for_this_request(log)
            if answer == "hang":
                # Never answers, but goes when its caller does (the socket closes): a killed
                # client leaves no pinentry behind.
                select.select([sys.stdin], [], [], 3600)
                return
            if answer != "yes":
                send("ERR 83886179 Operation cancelled <Pinentry>")
            elif command == "GETPIN":
                send("D " + escape(os.environ.get("SCRIPTED_PINENTRY_PASSWORD", "")))
                send("OK")
            else:
                send("OK")
        elif command == "BYE":
            send("OK closing connection")
            return
        else:
            send("OK")

main()
