# Room in an object's attribute table, for the objects the 20 ms frame works on.
#
# MicroPython keeps an instance's attributes in an open-addressing hash table that
# grows only when it is completely full (py/map.c), to the next of the sizes below.
# A lookup probes slot after slot until it finds its key or an empty slot, so in a
# table with few empty slots a lookup that misses (every method call on an instance
# misses in the instance's table before the class is searched) walks a long run of
# slots, and hits walk the clusters: with linear probing a miss takes about
# (1 + 1/(1 - load)^2) / 2 probes. An RtpSession holds 119 attributes in 127 slots.
# roomy() adds placeholder attributes until the table grows once, when that at
# least halves the probes of a miss. Measured on bench/media_mpy.py (x86-64
# instructions per frame, callgrind): the session, its jitter buffer, the concealer
# and the media pipeline made roomy save ~9 k of ~150 k. The price is the bigger
# tables: (next size - size) x 2 words per object, ~0.5 KB per line on the ESP32.

# py/map.c hash_allocation_sizes (MicroPython 1.x); on a port with another growth
# rule the placeholders are only unused attributes.
_SIZES = (0, 2, 4, 6, 8, 10, 12, 17, 23, 29, 37, 47, 59, 73, 97, 127, 167, 223, 293,
          389, 521, 691)


def roomy(obj):
    """Give obj's attribute table room (see above). Call it once the object has all
    its attributes; returns how many placeholders were added. Again on the same object
    it does nothing: `obj.__dict__` copies the whole table (~1.3 KB for a session on
    32 bits), which a call in a heap in pieces may find no room for. The mark that
    says so (`_roomy`) is the first placeholder, or, with no growth, a slot of the
    room the table has."""
    if getattr(obj, "_roomy", False):
        return 0
    n = len(obj.__dict__)
    for k in range(len(_SIZES) - 1):
        size = _SIZES[k]
        if size >= n:
            break
    else:
        obj._roomy = True
        return 0
    grown = _SIZES[k + 1]
    # 1 - load, before and after growing: (size - n) / size, (grown - size - 1) / grown;
    # the probes halve when the first is at most the second / sqrt(2)
    if size == 0 or 2 * (size - n) ** 2 * grown ** 2 > (grown - size - 1) ** 2 * size ** 2:
        obj._roomy = True          # (a full table always grows above: there is a slot)
        return 0
    obj._roomy = True
    added = 1
    i = 0
    while added < size + 1 - n:  # one more than fits: the table grows
        name = "_room%d" % i
        if not hasattr(obj, name):
            setattr(obj, name, None)
            added += 1
        i += 1
    return added
