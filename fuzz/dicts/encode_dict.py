#!/usr/bin/env python3
"""Writes fuzz/dicts/encode.dict: pieces of the `encode` input's arbitrary
1.5.0 encoding (see fuzz/README.md, "Dictionaries"): field shapes (a name
from the pool and a value of every type), huge values, control
characters. Run from the repository root when the types of
tests/fuzz_checks/encode/input.rs change.
"""
C = bytes([1])
def tag(k, n):
    t = ((k << 32) + n - 1) // n
    assert (t * n) >> 32 == k
    return t.to_bytes(4, 'little')
def esc(b): return ''.join('\\x%02x' % c for c in b)
def vec(items): return b''.join(C + i for i in items) + b'\x00'
# FVal (14): U64, I64, U128, I128, F64, F64Special, Bool, Str, DebugStr,
# DisplayStr, Debug, Display, Error, Bytes. FStr (4): Any, Palette, Repeat,
# Long. FmtEnd (3): Ok, Err, Panic. Action (6): Event, NewSpan, Record,
# Enter, Exit, Close. Parent (3). Lvl (5).
F = lambda k: tag(k, 14)
S = lambda k: tag(k, 4)
out = ['# libFuzzer dictionary for the `encode` target; made by fuzz/dicts/encode_dict.py.']
def entry(name, b): out.append('%s="%s"' % (name, esc(b)))
vals = {
    'u64_max': F(0) + b'\xff' * 8,
    'i64_min': F(1) + b'\x00' * 7 + b'\x80',
    'u128_max': F(2) + b'\xff' * 16,
    'i128_min': F(3) + b'\x00' * 15 + b'\x80',
    'f64_nan': F(4) + b'\x00' * 6 + b'\xf8\x7f',
    'f64_neg_zero': F(4) + b'\x00' * 7 + b'\x80',
    'f64_subnormal': F(4) + b'\x01' + b'\x00' * 7,
    'bool_true': F(6) + b'\x01',
    # Huge values: a palette piece (control characters, U+2028, escapes)
    # repeated up to the 70 000-byte cap, as a str and through Debug.
    'str_huge_newlines': F(7) + S(2) + b'\x00' + b'\xff\xff',
    'str_huge_nul': F(7) + S(2) + b'\x03' + b'\xff\xff',
    'str_huge_u2028': F(7) + S(2) + b'\x06' + b'\xff\xff',
    'str_huge_escape': F(7) + S(2) + b'\x10' + b'\xff\xff',
    'debugstr_huge_quote': F(8) + S(2) + b'\x08' + b'\x00\x40',
    'displaystr_huge_emoji': F(9) + S(2) + b'\x0b' + b'\x00\x40',
    # Control characters in one string: \n \r \t NUL 0x1f DEL U+2028 U+2029.
    'str_controls': F(7) + S(1) + vec([bytes([i]) for i in range(8)]),
    'str_marker_lookalike': F(7) + S(1) + vec([b'\x0d', b'\x0c', b'\x13']),
    'debug_pieces_then_err': F(10) + vec([S(1) + vec([b'\x00', b'\x06'])]) + tag(1, 3),
    'display_pieces_then_panic': F(11) + vec([S(1) + vec([b'\x08'])]) + tag(2, 3) + tag(1, 4),
    'bytes_controls': F(13) + vec([b'\x00', b'\x0a', b'\xff']),
}
for name, v in vals.items():
    entry('value_' + name, v)
# Field shapes: name k of the pool (message, level, target, fields, span,
# duplicates, log.*, r#type, control characters, a long one) with a value.
for k in range(0, 24, 3):
    entry('field_%d_str_controls' % k, C + bytes([k]) + vals['str_controls'])
    entry('field_%d_u128' % k, C + bytes([k]) + vals['u128_max'])
entry('field_message_huge', C + b'\x00' + vals['str_huge_u2028'])
entry('event_info_root', C + tag(0, 6) + b'\x00' + tag(2, 5) + tag(1, 3))
entry('span_info_current', C + tag(1, 6) + b'\x00' + tag(2, 5) + tag(0, 3))
entry('enter_0', C + tag(3, 6) + b'\x00')
entry('record_0', C + tag(2, 6) + b'\x00')
open('fuzz/dicts/encode.dict', 'w').write('\n'.join(out) + '\n')
