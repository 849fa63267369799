#!/usr/bin/env python3
"""Writes fuzz/dicts/reentrancy.dict: pieces of the `reentrancy` input's
arbitrary 1.5.0 encoding (see fuzz/README.md, "Dictionaries") for nested
spans, external calls, and values that run more of the program inside the
logging path. Run from the repository root when the types of
tests/fuzz_checks/reentrancy/input.rs change.
"""
C = bytes([1])
def tag(k, n):
    t = ((k << 32) + n - 1) // n
    assert (t * n) >> 32 == k
    return t.to_bytes(4, 'little')
def esc(b): return ''.join('\\x%02x' % c for c in b)
def vec(items): return b''.join(C + i for i in items) + b'\x00'
# Action (13): Event, NewSpan, Enter, Exit, Close, Record, InSpan, Run,
# CatchUnwind, Panic, Format, OnThread, ExternalCall. Value (6): Int, Str,
# LogsDeep, Panics, Errors, Runs. Lvl (5): Trace, Debug, Info, Warn, Error.
A = lambda k: tag(k, 13)
V = lambda k: tag(k, 6)
INFO, ERROR = tag(2, 5), tag(4, 5)
runs = lambda b: V(5) + bytes([b])
deep = lambda k: V(2) + bytes([k])
pieces = {
    'new_span_runs': A(1) + INFO + vec([runs(0)]),
    'new_span_plain': A(1) + ERROR + vec([]),
    'enter_0': A(2) + b'\x00',
    'enter_1': A(2) + b'\x01',
    'exit': A(3),
    'close_0': A(4) + b'\x00',
    'record_runs': A(5) + b'\x00' + runs(0),
    'record_deep': A(5) + b'\x00' + deep(2),
    'in_span': A(6) + b'\x00\x00',
    'run': A(7) + b'\x00',
    'catch_unwind': A(8) + b'\x00',
    'panic': A(9),
    'format_runs': A(10) + runs(0),
    'on_thread': A(11) + b'\x00',
    'external_call': A(12),
    'event_runs': A(0) + INFO + vec([runs(0)]),
    'event_deep': A(0) + ERROR + vec([deep(3)]),
    'event_panics': A(0) + INFO + vec([V(3)]),
}
out = ['# libFuzzer dictionary for the `reentrancy` target; made by '
       'fuzz/dicts/reentrancy_dict.py.']
for name, b in pieces.items():
    out.append('%s="%s"' % (name, esc(C + b)))
# Structures: nested spans entered, then work inside them; a block that ends
# and the next that starts (blocks are run by Runs/Run/InSpan/OnThread).
p = {k: C + v for k, v in pieces.items()}
out.append('nested_spans="%s"' % esc(p['new_span_plain'] + p['enter_0'] + p['new_span_runs'] + p['enter_1'] + p['in_span']))
out.append('span_then_external="%s"' % esc(p['new_span_plain'] + p['enter_0'] + p['external_call'] + p['exit']))
out.append('external_inside_path="%s"' % esc(b'\x00' + C + p['external_call'] + p['record_runs']))
out.append('next_block="%s"' % esc(b'\x00' + C))
open('fuzz/dicts/reentrancy.dict', 'w').write('\n'.join(out) + '\n')
