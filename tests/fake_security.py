"""A stand-in for macOS /usr/bin/security, for the keyring tests on Linux.

Emulates what go-keyring and MacOSSecurityBackend use, as Apple's
SecurityTool sources describe it:

  security -i                  commands on stdin, one per "\\n"-terminated
                               line (a last line without "\\n" is ignored;
                               lines are cut at 4095 bytes)
  add-generic-password [-U] -s SERVICE -a ACCOUNT [-w PASSWORD] [-l LABEL]
  find-generic-password -s SERVICE -a ACCOUNT [-w]     (also -wa ACCOUNT)
  delete-generic-password -s SERVICE -a ACCOUNT

Exit status 44 when the item is not found, 45 for a duplicate without -U, 2
for a usage error. `-w` prints the password and a newline, in hex when any
byte is not printable ASCII, as security does.

Environment:
  FAKE_SECURITY_STATE  JSON file with the items (required)
  FAKE_SECURITY_LOG    if set, each run appends {"argv", "env"} as a JSON line
  FAKE_SECURITY_MODE   "locked": every command exits 36
                       (errSecInteractionNotAllowed); "hang": sleep forever
"""

import getopt
import json
import os
import sys
import time

NOT_FOUND = 44
DUPLICATE = 45
USAGE = 2
INTERACTION_NOT_ALLOWED = 36
MAX_LINE = 4095

NOT_FOUND_MESSAGE = (
    "security: SecKeychainSearchCopyNext: The specified item could not be "
    "found in the keychain.\n"
)


class Usage(Exception):
    pass


def load():
    try:
        with open(os.environ["FAKE_SECURITY_STATE"], encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save(items):
    with open(os.environ["FAKE_SECURITY_STATE"], "w", encoding="utf-8") as f:
        json.dump(items, f)


def key(service, account):
    return service + "\0" + account


def parse(args, spec):
    try:
        opts, rest = getopt.getopt(args, spec)
    except getopt.GetoptError as e:
        raise Usage(str(e)) from None
    if rest:
        raise Usage("unexpected arguments")
    return {name[1:]: value.encode("utf-8", "surrogateescape")
            for name, value in opts}


def show_password(password: bytes) -> bytes:
    if all(0x20 <= b < 0x7F for b in password):
        return password + b"\n"
    # %02x of a signed char: bytes >= 0x80 come out as ffffffXX.
    signed = (b - 256 if b >= 0x80 else b for b in password)
    return "".join("%02x" % (b & 0xFFFFFFFF) for b in signed).encode() + b"\n"


def add(args, out, err):
    opts = parse(args, "Us:a:w:l:")
    if "s" not in opts or "a" not in opts:
        raise Usage("need -s and -a")
    items = load()
    k = key(opts["s"].decode("utf-8", "surrogateescape"),
            opts["a"].decode("utf-8", "surrogateescape"))
    if k in items and "U" not in opts:
        err.write(b"add-generic-password: returned -25299\n")
        return DUPLICATE
    items[k] = {"password": opts.get("w", b"").hex(),
                "label": opts.get("l", opts["s"]).decode("utf-8", "replace")}
    save(items)
    return 0


def find(args, out, err):
    opts = parse(args, "s:a:w")
    k = key(opts.get("s", b"").decode("utf-8", "surrogateescape"),
            opts.get("a", b"").decode("utf-8", "surrogateescape"))
    item = load().get(k)
    if item is None:
        err.write(NOT_FOUND_MESSAGE.encode())
        return NOT_FOUND
    if "w" in opts:
        out.write(show_password(bytes.fromhex(item["password"])))
    else:
        out.write(b'keychain: "login.keychain-db"\nclass: "genp"\n')
    return 0


def delete(args, out, err):
    opts = parse(args, "s:a:")
    k = key(opts.get("s", b"").decode("utf-8", "surrogateescape"),
            opts.get("a", b"").decode("utf-8", "surrogateescape"))
    items = load()
    if k not in items:
        err.write(NOT_FOUND_MESSAGE.encode())
        return NOT_FOUND
    del items[k]
    save(items)
    out.write(b'keychain: "login.keychain-db"\nclass: "genp"\n')
    err.write(b"password has been deleted.\n")
    return 0


COMMANDS = {
    "add-generic-password": add,
    "find-generic-password": find,
    "delete-generic-password": delete,
}


def run(words, out, err):
    if not words or words[0] not in COMMANDS:
        err.write(b"security: unknown command\n")
        return USAGE
    try:
        return COMMANDS[words[0]](words[1:], out, err)
    except Usage:
        err.write(b"usage error\n")
        return USAGE


def split_words(line: bytes):
    """Split a `security -i` line: blanks; '..' or ".." quote; \\ escapes."""
    words, i, n = [], 0, len(line)
    while i < n:
        if line[i] in b" \t":
            i += 1
            continue
        word = bytearray()
        quote = line[i] if line[i] in b"'\"" else None
        if quote is not None:
            i += 1
        while i < n:
            c = line[i]
            if quote is None and c in b" \t":
                break
            if quote is not None and c == quote:
                i += 1  # a closing quote ends the word
                break
            if c == ord("\\") and i + 1 < n:
                i += 1
                c = line[i]
            word.append(c)
            i += 1
        words.append(bytes(word).decode("utf-8", "surrogateescape"))
    return words


def interactive(out, err):
    data = sys.stdin.buffer.read()
    status = 0
    lines = data.split(b"\n")
    for line in lines[:-1]:  # a last line without "\n" is ignored
        while line:
            chunk, line = line[:MAX_LINE], line[MAX_LINE:]
            status = run(split_words(chunk), out, err)
    return status


def main():
    log = os.environ.get("FAKE_SECURITY_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            record = {"argv": sys.argv[1:], "env": dict(os.environ)}
            f.write(json.dumps(record) + "\n")
    mode = os.environ.get("FAKE_SECURITY_MODE", "")
    if mode == "hang":
        while True:
            time.sleep(60)
    if mode == "locked":
        sys.stderr.write("security: returned -25308\n")
        return INTERACTION_NOT_ALLOWED
    out, err = sys.stdout.buffer, sys.stderr.buffer
    args = sys.argv[1:]
    if args == ["-i"]:
        return interactive(out, err)
    return run(args, out, err)


if __name__ == "__main__":
    sys.exit(main())
