#!/usr/bin/env python3
"""type_target.py OUT_FILE: a real X window with a text entry that has the
keyboard focus, for typing tests (tests/integration/dictate.sh): whatever is
typed into it is written to OUT_FILE (atomically, every 50 ms when it
changed). Prints "ready" on stdout once it is mapped and focused. Stops when
killed."""
import os
import sys
import tkinter as tk

out = sys.argv[1]
root = tk.Tk()
root.title("hark type target")
root.geometry("600x60+0+0")
entry = tk.Entry(root, width=80)
entry.pack(fill="x")
last = [None]


def save():
    text = entry.get()
    if text != last[0]:
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, out)
        last[0] = text
    root.after(50, save)


def ready():
    root.focus_force()
    entry.focus_set()
    root.update()
    print("ready", flush=True)


root.after(200, ready)
root.after(50, save)
root.mainloop()
