#!/usr/bin/env python3
"""Writes fuzz/dicts/sink.dict and the fuzz/seeds/sink/shape-* seeds.

Run from the repository root: python3 fuzz/dicts/sink_dict.py
"""
import re

C = bytes([1])
def tag(k, n):
    t = ((k << 32) + n - 1) // n
    assert (t * n) >> 32 == k
    return t.to_bytes(4, 'little')
def u16(n): return n.to_bytes(2, 'little')
def esc(b): return ''.join('\\x%02x' % c for c in b)
out = []
def entry(name, b): out.append('%s="%s"' % (name, esc(b)))
out.append('''# libFuzzer dictionary for the `sink` target (issue 16): byte patterns of
# the input's arbitrary 1.5.0 encoding that reach the shapes that matter.
# Encoding: a Vec element is a continuation byte (\\x01) then the element;
# an enum is a little-endian u32 tag (variant = tag * variants >> 32); u8
# and u16 are little-endian. Made by fuzz/dicts/sink_dict.py: run it again
# when the input types of tests/fuzz_checks/sink/input.rs change.
''')
# WriteStep: All, Part, PartThenFail, Stall, Interrupted, Zero, Error, Panic, PanicBomb
out.append('# Writer failures, one script step each: a partial write at several points\n# of a batch (1 + n % len bytes, then three errors); Ok(0); errors; panics.')
for n in [0, 1, 2, 3, 64, 65, 127, 128, 140, 141, 255, 1000]:
    entry('write_part_then_fail_%d' % n, C + tag(2, 9) + u16(n))
for n in [0, 1, 63, 64, 127]:
    entry('write_part_%d' % n, C + tag(1, 9) + u16(n))
entry('write_zero', C + tag(5, 9))
entry('write_interrupted', C + tag(4, 9))
entry('write_panic', C + tag(7, 9))
entry('write_panic_bomb', C + tag(8, 9))
for k, e in enumerate(['broken_pipe', 'would_block', 'other', 'display_panics']):
    entry('write_error_' + e, C + tag(6, 9) + tag(k, 4))
entry('write_three_errors', (C + tag(6, 9) + tag(2, 4)) * 3)
# FlushStep: Ok, Error, Panic
out.append('\n# Flush steps: an error, a panic.')
entry('flush_error', C + tag(1, 3))
entry('flush_panic', C + tag(2, 3))
# Op: Submit{len u16, level Lvl(5), shape Shape(6)}, Flush(u8), Snapshot, Yield
out.append('\n# Submits at the size limits: len % (2 * max_record + 64) is max_record - 1,\n# max_record or max_record + 1 (max_record = 64 + 8 * n), JSON and text, at\n# INFO (shed above the high-water mark) and ERROR.')
shapes = ['json', 'text']
for m in [64, 72, 128, 144, 576]:
    for d in [-1, 0, 1]:
        for lv, lvn in [(2, 'info'), (4, 'error')]:
            for sk, sn in enumerate(shapes):
                entry('submit_%s_%s_%d' % (sn, lvn, m + d), C + tag(0, 4) + u16(m + d) + tag(lv, 5) + tag(sk, 6))
entry('submit_empty', C + tag(0, 4) + u16(0) + tag(2, 5) + tag(5, 6))
entry('submit_unterminated_error', C + tag(0, 4) + u16(64) + tag(4, 5) + tag(4, 6))
out.append('\n# Between submits: a flush, a snapshot (drop reports land between records).')
entry('op_flush', C + tag(1, 4) + bytes([3]))
entry('op_snapshot', C + tag(2, 4))


# Seeds: a few inputs built from the same pieces (fuzz/seeds/sink/shape-*),
# each aimed at one shape the dictionary names.
def piece(name):
    line = next(l for l in out if l.startswith(name + '='))
    return bytes(int(x, 16) for x in re.findall(r'\\x([0-9a-f]{2})', line))

def config(capacity, m, budget, overflow, high_water, deadline):
    return bytes([capacity, m]) + u16(budget) + tag(overflow, 3) + bytes([high_water, deadline])

def vec(items):
    return b''.join(items) + b'\x00'

def phase(hold, threads, flush_after=None):
    b = bytes([1 if hold else 0])
    b += b''.join(C + vec([piece(o) if isinstance(o, str) else o for o in t]) for t in threads) + b'\x00'
    b += b'\x00' if flush_after is None else b'\x01' + bytes([flush_after])
    return b

def seed(name, cfg, writes, flushes, phases, early=False):
    b = cfg + vec([piece(w) for w in writes]) + vec([piece(f) for f in flushes])
    b += b''.join(C + p for p in phases) + b'\x00' + bytes([1 if early else 0])
    open('fuzz/seeds/sink/shape-' + name, 'wb').write(b)

if __name__ == '__main__':
    open('fuzz/dicts/sink.dict', 'w').write('\n'.join(out) + '\n')
    # Drops (oversize, shed) reported in-band, then the writer cuts the
    # batch holding the report (at several points) and fails.
    seed('report-then-cut', config(0, 0, 0, 0, 1, 20),
         ['write_part_then_fail_140', 'write_part_then_fail_141'], ['flush_panic'],
         [phase(True, [['submit_json_info_65', 'submit_text_info_64', 'submit_json_error_64'],
                       ['submit_text_info_63', 'op_snapshot', 'submit_json_error_63']], 5),
          phase(False, [['submit_json_error_64', 'op_flush', 'submit_text_error_64']], 10)])
    # Records one byte under, at and over max_record (128), JSON and text.
    seed('size-limits', config(7, 8, 300, 0, 99, 30),
         ['write_part_63', 'write_part_127'], [],
         [phase(False, [['submit_json_error_127', 'submit_json_error_128', 'submit_json_error_129'],
                        ['submit_text_error_127', 'submit_text_error_128', 'submit_text_error_129']], 15)])
    # A failure at each point: Ok(0), an error whose Display panics, a
    # panic whose payload's drop panics, failing flushes, between records.
    seed('failures-between-records', config(3, 1, 100, 1, 50, 25),
         ['write_part_1', 'write_zero', 'write_error_display_panics', 'write_part_64', 'write_panic_bomb'],
         ['flush_error', 'flush_panic'],
         [phase(False, [['submit_json_error_72', 'op_flush', 'submit_text_info_72'],
                        ['submit_unterminated_error', 'submit_empty', 'submit_json_info_71']], 10),
          phase(True, [['submit_json_error_73', 'submit_text_error_71']], 10)])
    # The queue evicts while the writer is held; the report of the drops is
    # cut, said again, and mixed with records.
    seed('evictions-reported-then-cut', config(0, 0, 64, 1, 100, 15),
         ['write_part_then_fail_64', 'write_part_0'], [],
         [phase(True, [['submit_json_info_64', 'submit_json_info_64', 'submit_json_info_64'],
                       ['submit_text_info_64', 'submit_text_info_64']], 5),
          phase(False, [['submit_json_error_64', 'op_snapshot']], 10)])
